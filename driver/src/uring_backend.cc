#include "emio/driver/uring_backend.h"

#include <fcntl.h>
#include <signal.h>
#include <sys/stat.h>

#include <cassert>
#include <cerrno>
#include <cstdint>

#include "emio/driver/epoll_backend.h"
#include "emio/port/clock.h"
#include "emio/port/log.h"

namespace emio {
namespace {

// user_data layout: readiness polls carry their Token (tag 0 for sources, 0xFF for the driver's wake);
// operations carry the record's address under operation_tag; the backend's own submissions (poll
// removals, shutdown cancels, wait timeouts) carry internal_tag and complete silently. User-space
// addresses fit in 56 bits on every Linux target, 5-level paging included.
constexpr uint64_t operation_tag = 0xFE;
constexpr uint64_t internal_tag = 0xFD;
constexpr unsigned tag_shift = Token::tag_shift;
constexpr uint64_t address_mask = (uint64_t{1} << tag_shift) - 1;

uint64_t user_data_of(const Operation& op) {
  const auto address = reinterpret_cast<uintptr_t>(&op);
  assert((address & ~address_mask) == 0);
  return (operation_tag << tag_shift) | address;
}

// --- The probe: once per process ---

struct ProbeOutcome {
  bool done = false;
  Error unavailable{};  // set once io_uring was found unusable: epoll for the life of the process
  UringFeatures features{};
};

std::mutex probe_lock;
ProbeOutcome probe_outcome;  // guarded by probe_lock

// ENOSYS: no io_uring (old kernel, qemu-user). EPERM: seccomp (Docker's default profile) or the
// io_uring_disabled sysctl. EINVAL: a kernel too old for the set-up we ask for. ENOMEM and fd limits
// are real errors and are returned as such (field notes, section 4).
bool means_unavailable(Error error) {
  return error == Error::from_errno(ENOSYS) || error == Error::from_errno(EPERM) ||
         error == Error::from_errno(EINVAL) || error == Error::backend_unavailable;
}

void mark_unavailable_locked(Error reason, const char* during) {
  if (probe_outcome.unavailable.failed()) return;
  probe_outcome.unavailable = reason;
  probe_outcome.done = true;
  log_message(LogLevel::warning, "io_uring unavailable (%s at %s): using epoll for the life of this process",
              reason.name(), during);
}

bool opcode_supported(const io_uring_probe* probe, int opcode) {
  return opcode <= probe->last_op && (probe->ops[opcode].flags & IO_URING_OP_SUPPORTED) != 0;
}

UringFeatures features_of(io_uring& ring) {
  UringFeatures features;
  features.wait_timeout = (ring.features & IORING_FEAT_EXT_ARG) != 0;
  // Multishot POLL_ADD has no opcode of its own: it came in 5.13 with IORING_FEAT_RSRC_TAGS.
  features.multishot_poll = (ring.features & IORING_FEAT_RSRC_TAGS) != 0;
  // On the stack, not io_uring_get_probe_ring(), which mallocs.
  alignas(io_uring_probe) unsigned char storage[sizeof(io_uring_probe) + 256 * sizeof(io_uring_probe_op)] = {};
  auto* probe = reinterpret_cast<io_uring_probe*>(storage);
  if (io_uring_register_probe(&ring, probe, 256) == 0) {
    // Multishot accept and buffer rings came with IORING_OP_SOCKET (5.19); multishot recv with
    // IORING_OP_SEND_ZC (6.0). Probing the opcodes that arrived with them is the only way to ask.
    features.multishot_accept = opcode_supported(probe, IORING_OP_SOCKET);
    features.multishot_recv = opcode_supported(probe, IORING_OP_SEND_ZC);
  }
  return features;
}

// Returns the cached verdict, probing first if nobody has. An error means "do not use io_uring".
Error probe_once(UringFeatures& features) {
  std::lock_guard<std::mutex> guard(probe_lock);
  if (!probe_outcome.done) {
    io_uring ring{};
    const int status = io_uring_queue_init(2, &ring, 0);
    if (status < 0) {
      const Error error = Error::from_errno(-status);
      if (!means_unavailable(error)) return error;  // not cached: ENOMEM may pass
      mark_unavailable_locked(error, "io_uring_setup");
    } else {
      // FEAT_NODROP (5.5): overflowing completions are kept, not lost. Below it, we do not go.
      if ((ring.features & IORING_FEAT_NODROP) == 0) {
        mark_unavailable_locked(Error::backend_unavailable, "probe (no IORING_FEAT_NODROP)");
      }
      probe_outcome.features = features_of(ring);
      probe_outcome.done = true;
      io_uring_queue_exit(&ring);
    }
  }
  features = probe_outcome.features;
  return probe_outcome.unavailable;
}

uint32_t poll_mask_of(Interest interest) {
  // EPOLLRDHUP, as with epoll: a peer's shutdown(SHUT_WR) is reported without a read.
  uint32_t mask = EPOLLRDHUP;
  if (interest.contains(Interest::readable)) mask |= EPOLLIN;
  if (interest.contains(Interest::writable)) mask |= EPOLLOUT;
  if (interest.contains(Interest::priority)) mask |= EPOLLPRI;
  return mask;
}

}  // namespace

UringFeatures UringBackend::features() {
  std::lock_guard<std::mutex> guard(probe_lock);
  return probe_outcome.features;
}

UringBackend::~UringBackend() {
  if (open_) io_uring_queue_exit(&ring_);
}

Error UringBackend::open(const BackendOptions& options) {
  UringFeatures features;
  if (Error error = probe_once(features); error.failed()) return error;
  io_uring_params params{};
  if (options.choice == BackendChoice::uring_sqpoll) {
    params.flags |= IORING_SETUP_SQPOLL;
    params.sq_thread_idle = options.uring.sqpoll_idle_ms;
  }
  const int status = io_uring_queue_init_params(options.uring.sq_entries, &ring_, &params);
  if (status < 0) {
    const Error error = Error::from_errno(-status);
    // A filter added after the probe (a sandboxed child) refuses here: the same verdict, for good.
    if (means_unavailable(error) && options.choice != BackendChoice::uring_sqpoll) {
      std::lock_guard<std::mutex> guard(probe_lock);
      mark_unavailable_locked(error, "io_uring_setup");
    }
    return error;
  }
  // SQPOLL on non-registered files needs 5.11; before that it would fail on every fd we watch.
  if (options.choice == BackendChoice::uring_sqpoll && (params.features & IORING_FEAT_SQPOLL_NONFIXED) == 0) {
    io_uring_queue_exit(&ring_);
    return Error::backend_unavailable;
  }
  open_ = true;
  multishot_poll_ = features.multishot_poll && !options.uring.single_shot_poll;
  wait_timeout_ = features.wait_timeout;
  busy_poll_budget_us_ = options.uring.busy_poll_budget_us;
  return Error{};
}

io_uring_sqe* UringBackend::next_sqe_locked() {
  io_uring_sqe* sqe = io_uring_get_sqe(&ring_);
  if (sqe != nullptr) return sqe;
  // The queue is full of submissions not yet handed over: hand them over and take a fresh entry.
  (void)io_uring_submit(&ring_);
  return io_uring_get_sqe(&ring_);
}

Error UringBackend::add(int fd, Token token, Interest interest) {
  struct stat status {};
  if (::fstat(fd, &status) < 0) return Error::last_os_error();
  // epoll refuses regular files and directories (always ready, so never worth watching) with EPERM;
  // io_uring would report them ready forever. Refuse them the same way.
  if (S_ISREG(status.st_mode) || S_ISDIR(status.st_mode)) return Error::from_errno(EPERM);
  return arm_poll(fd, token, interest);
}

Error UringBackend::arm_poll(int fd, Token token, Interest interest) {
  std::lock_guard<std::mutex> guard(submit_lock_);
  io_uring_sqe* sqe = next_sqe_locked();
  if (sqe == nullptr) return Error::from_errno(EBUSY);
  // Multishot poll posts one completion per wake-up of the file, which is epoll's edge-triggered
  // contract; a single-shot poll (5.10) ends with its first completion and the driver re-arms it.
  if (multishot_poll_) {
    io_uring_prep_poll_multishot(sqe, fd, poll_mask_of(interest));
  } else {
    io_uring_prep_poll_add(sqe, fd, poll_mask_of(interest));
  }
  io_uring_sqe_set_data64(sqe, token.bits());
  // Submitted now, from the calling thread: like epoll_ctl, the poll is armed when add_source returns.
  const int submitted = io_uring_submit(&ring_);
  return submitted < 0 ? Error::from_errno(-submitted) : Error{};
}

Error UringBackend::remove(int fd, Token token) {
  // The fd may be closed already; epoll says EBADF then, and so do we, after removing the poll anyway.
  const Error fd_status = ::fcntl(fd, F_GETFD) < 0 ? Error::last_os_error() : Error{};
  std::lock_guard<std::mutex> guard(submit_lock_);
  io_uring_sqe* sqe = next_sqe_locked();
  if (sqe == nullptr) return Error::from_errno(EBUSY);
  io_uring_prep_poll_remove(sqe, token.bits());
  io_uring_sqe_set_data64(sqe, internal_tag << tag_shift);
  const int submitted = io_uring_submit(&ring_);
  if (submitted < 0) return Error::from_errno(-submitted);
  return fd_status;
}

Error UringBackend::submit(Operation& op) {
  std::lock_guard<std::mutex> guard(submit_lock_);
  io_uring_sqe* sqe = next_sqe_locked();
  if (sqe == nullptr) return Error::from_errno(EBUSY);
  const int fd = op.source != nullptr ? op.source->fd : -1;
  switch (op.kind) {
    case OpKind::accept:
      io_uring_prep_accept(sqe, fd, op.address, op.address != nullptr ? &op.address_length : nullptr,
                           SOCK_NONBLOCK | SOCK_CLOEXEC);
      break;
    case OpKind::connect:
      io_uring_prep_connect(sqe, fd, op.address, op.address_length);
      break;
    case OpKind::recv:
      io_uring_prep_recv(sqe, fd, op.buffer, op.length, 0);
      break;
    case OpKind::send:
      io_uring_prep_send(sqe, fd, op.buffer, op.length, MSG_NOSIGNAL);
      break;
    // Offset -1: the file's current position, as read(2) and write(2) use (5.6 and later).
    case OpKind::read:
      io_uring_prep_read(sqe, fd, op.buffer, op.length, static_cast<uint64_t>(-1));
      break;
    case OpKind::write:
      io_uring_prep_write(sqe, fd, op.buffer, op.length, static_cast<uint64_t>(-1));
      break;
    case OpKind::close:
      io_uring_prep_close(sqe, fd);
      break;
    case OpKind::timeout:
      op.timer.timespec.tv_sec = static_cast<int64_t>(op.timeout_ns / 1000000000u);
      op.timer.timespec.tv_nsec = static_cast<long long>(op.timeout_ns % 1000000000u);
      io_uring_prep_timeout(sqe, &op.timer.timespec, 0, 0);
      break;
    case OpKind::cancel:
      io_uring_prep_cancel64(sqe, user_data_of(*op.target), 0);
      break;
  }
  io_uring_sqe_set_data64(sqe, user_data_of(op));
  op.state = OpState::in_kernel;
  return Error{};
}

void UringBackend::cancel_operations() {
  {
    std::lock_guard<std::mutex> guard(submit_lock_);
    for (Operation* op = ledger_->first(); op != nullptr; op = op->next) {
      io_uring_sqe* sqe = next_sqe_locked();
      if (sqe == nullptr) break;
      io_uring_prep_cancel64(sqe, user_data_of(*op), 0);
      io_uring_sqe_set_data64(sqe, internal_tag << tag_shift);
    }
  }
  // Every operation completes, cancelled or not; readiness events reaped meanwhile no longer matter.
  // The deadline only guards against a kernel that never completes an uncancellable operation.
  const uint64_t give_up_ns = monotonic_now_ns() + 10'000'000'000u;
  Event discarded[16];
  while (ledger_->count() > 0 && monotonic_now_ns() < give_up_ns) {
    if (!reap(discarded).any()) (void)enter(1, 100);
  }
}

bool UringBackend::must_enter_to_reap() const {
  // Completions kept in the kernel after an overflow, or task work the kernel deferred to us, reach
  // the ring only through io_uring_enter.
  const unsigned flags = IO_URING_READ_ONCE(*ring_.sq.kflags);
  return (flags & (IORING_SQ_CQ_OVERFLOW | IORING_SQ_TASKRUN)) != 0;
}

Error UringBackend::enter(uint32_t min_complete, int timeout_ms) {
  unsigned to_submit = 0;
  {
    std::lock_guard<std::mutex> guard(submit_lock_);
    if (timeout_ms > 0 && min_complete > 0 && !wait_timeout_) {
      // Before 5.11 a wait has no timeout of its own: a timeout submission that also completes as soon
      // as one other completion arrives (count 1) bounds it, as liburing does.
      if (io_uring_sqe* sqe = next_sqe_locked(); sqe != nullptr) {
        wait_timespec_.tv_sec = timeout_ms / 1000;
        wait_timespec_.tv_nsec = static_cast<long long>(timeout_ms % 1000) * 1000000;
        io_uring_prep_timeout(sqe, &wait_timespec_, 1, 0);
        io_uring_sqe_set_data64(sqe, internal_tag << tag_shift);
      }
    }
    // Hand the queued entries over; the kernel takes them in the io_uring_enter below. Another thread's
    // io_uring_submit may take some of them first, which the kernel serialises.
    to_submit = io_uring_sq_ready(&ring_);
    if (to_submit > 0) {
      ring_.sq.sqe_head = ring_.sq.sqe_tail;
      io_uring_smp_store_release(ring_.sq.ktail, ring_.sq.sqe_tail);
    }
  }
  unsigned flags = IORING_ENTER_GETEVENTS;
  if (sqpoll()) {
    if (to_submit > 0 && (IO_URING_READ_ONCE(*ring_.sq.kflags) & IORING_SQ_NEED_WAKEUP) != 0) {
      flags |= IORING_ENTER_SQ_WAKEUP;
    } else if (min_complete == 0 && !must_enter_to_reap()) {
      return Error{};  // the kernel thread submits; nothing to wait for: no system call at all
    }
  }
  int status = 0;
  if (min_complete > 0 && timeout_ms >= 0 && wait_timeout_) {
    __kernel_timespec timeout{timeout_ms / 1000, static_cast<long long>(timeout_ms % 1000) * 1000000};
    io_uring_getevents_arg argument{};
    argument.sigmask_sz = _NSIG / 8;
    argument.ts = reinterpret_cast<uintptr_t>(&timeout);
    status = io_uring_enter2(ring_.ring_fd, to_submit, min_complete, flags | IORING_ENTER_EXT_ARG,
                             reinterpret_cast<sigset_t*>(&argument), sizeof argument);
  } else {
    status = io_uring_enter(ring_.ring_fd, to_submit, min_complete, flags, nullptr);
  }
  // ETIME: the wait timed out. EBUSY/EAGAIN: the kernel is short of room and the caller will reap
  // and come back. Neither is a failure of the turn.
  if (status < 0 && status != -ETIME && status != -EBUSY && status != -EAGAIN) return Error::from_errno(-status);
  return Error{};
}

Result<uint32_t> UringBackend::wait(std::span<Event> events, int timeout_ms) {
  Reaped reaped = reap(events);
  if (!reaped.any() && timeout_ms != 0 && busy_poll_budget_us_ > 0) reaped = busy_poll(events);
  const bool block = !reaped.any() && timeout_ms != 0;
  // Submissions queued since the last turn leave with this enter, together with the wait: one system
  // call for both. Something reaped and nothing to hand over: no system call at all.
  const bool must_enter = block || !reaped.any() || io_uring_sq_ready(&ring_) > 0 || must_enter_to_reap();
  if (must_enter) {
    if (Error error = enter(block ? 1 : 0, timeout_ms); error.failed()) return error;
  }
  const Reaped more = reap(events.subspan(reaped.events));
  return reaped.events + more.events;
}

UringBackend::Reaped UringBackend::busy_poll(std::span<Event> events) {
  // Completions land in the shared ring without our help (task work runs when the kernel interrupts
  // this thread, or on the SQPOLL thread): look for them for a bounded time before sleeping.
  const uint64_t give_up_ns = monotonic_now_ns() + uint64_t{busy_poll_budget_us_} * 1000u;
  Reaped reaped;
  while (!reaped.any() && monotonic_now_ns() < give_up_ns && !must_enter_to_reap()) reaped = reap(events);
  return reaped;
}

UringBackend::Reaped UringBackend::reap(std::span<Event> events) {
  Reaped reaped;
  io_uring_cqe* cqe = nullptr;
  while (io_uring_peek_cqe(&ring_, &cqe) == 0 && cqe != nullptr) {
    const io_uring_cqe copy = *cqe;
    const uint64_t tag = copy.user_data >> tag_shift;
    if (tag == operation_tag) {
      io_uring_cqe_seen(&ring_, cqe);  // first: the completion may submit, and may need the slot
      complete(copy);
      reaped.completions += 1;
      continue;
    }
    if (tag != internal_tag && copy.res != -ECANCELED) {
      // A poll's event (a source's or the wake's); -ECANCELED means remove() took the poll away.
      if (reaped.events == events.size()) break;  // left in the ring for the next turn
      Event& event = events[reaped.events++];
      event.data.u64 = copy.user_data;
      // A failed poll cannot be armed again as it is; report it as an error on the source.
      event.events = copy.res < 0 ? uint32_t{EPOLLERR} : static_cast<uint32_t>(copy.res);
      if ((copy.flags & IORING_CQE_F_MORE) == 0 && copy.res >= 0) event.events |= poll_ended_flag;
    }
    io_uring_cqe_seen(&ring_, cqe);
  }
  return reaped;
}

void UringBackend::complete(const io_uring_cqe& cqe) {
  Operation& op = *reinterpret_cast<Operation*>(static_cast<uintptr_t>(cqe.user_data & address_mask));
  int32_t result = cqe.res;
  if (op.kind == OpKind::timeout && result == -ETIME) result = 0;  // the time passed: that is success
  if (op.kind == OpKind::close) op.source->fd = -1;                // gone even on error (close(2))
  ledger_->finish(op, result);
}

Ready UringBackend::ready_of(const Event& event) {
  // The poll mask io_uring returns has epoll's bit values and meanings; only our own flag is extra.
  Event plain = event;
  plain.events &= ~poll_ended_flag;
  return EpollBackend::ready_of(plain);
}

}  // namespace emio
