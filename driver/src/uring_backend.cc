#include "emio/driver/uring_backend.h"

#include <fcntl.h>
#include <signal.h>
#include <sys/mman.h>
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

UringBackend::~UringBackend() { close_ring(); }

void UringBackend::close_ring() {
  if (open_) {
    // Polls still armed at exit are cancelled by the kernel's exit work, which queues their task work
    // to this thread with TWA_SIGNAL: this thread's next epoll_wait (another driver, or the fallback)
    // would fail with a spurious EINTR. Cancel them now, inside an io_uring_enter that runs that work.
    std::lock_guard<std::mutex> guard(submit_lock_);
    if (io_uring_sqe* sqe = next_sqe_locked(); sqe != nullptr) {
      io_uring_prep_cancel64(sqe, 0, IORING_ASYNC_CANCEL_ANY | IORING_ASYNC_CANCEL_ALL);
      io_uring_sqe_set_data64(sqe, internal_tag << tag_shift);
      (void)io_uring_submit_and_wait(&ring_, 1);
      (void)io_uring_enter(ring_.ring_fd, 0, 0, IORING_ENTER_GETEVENTS, nullptr);
    }
    io_uring_queue_exit(&ring_);
  }
  open_ = false;
  if (buffer_ring_ != nullptr) (void)::munmap(buffer_ring_, buffer_count_ * sizeof(io_uring_buf));
  if (buffers_ != nullptr) (void)::munmap(buffers_, size_t{buffer_count_} * buffer_size_);
  if (next_free_file_ != nullptr) (void)::munmap(next_free_file_, file_capacity_ * sizeof(int32_t));
  buffer_ring_ = nullptr;
  buffers_ = nullptr;
  next_free_file_ = nullptr;
  file_capacity_ = 0;
}

Error UringBackend::open(const BackendOptions& options) {
  UringFeatures features;
  if (Error error = probe_once(features); error.failed()) return error;
  if (Error error = open_ring(options, features); error.failed()) return error;
  Error error = open_buffer_ring(options.receive_buffers, features);
  if (error.ok()) error = open_file_table(options.uring.registered_file_capacity);
  if (error.ok()) error = open_registered_buffers(options.uring.registered_buffers);
  if (error.failed()) close_ring();
  return error;
}

Error UringBackend::open_ring(const BackendOptions& options, const UringFeatures& features) {
  io_uring_params params{};
  if (options.choice == BackendChoice::uring_sqpoll) {
    params.flags |= IORING_SETUP_SQPOLL;
    params.sq_thread_idle = options.uring.sqpoll_idle_ms;
    if (options.uring.sqpoll_cpu >= 0) {
      params.flags |= IORING_SETUP_SQ_AFF;
      params.sq_thread_cpu = static_cast<uint32_t>(options.uring.sqpoll_cpu);
    }
  }
  // COOP_TASKRUN (5.19): completions wait for this thread's next system call instead of interrupting it
  // with an IPI and TWA_SIGNAL; TASKRUN_FLAG tells us when they wait, so a busy-poll turn still enters.
  // Older kernels refuse the flags with EINVAL: set up again without them.
  io_uring_params cooperative = params;
  cooperative.flags |= IORING_SETUP_COOP_TASKRUN | IORING_SETUP_TASKRUN_FLAG;
  int status = io_uring_queue_init_params(options.uring.sq_entries, &ring_, &cooperative);
  if (status == -EINVAL)
    status = io_uring_queue_init_params(options.uring.sq_entries, &ring_, &params);
  else
    params = cooperative;
  if (status < 0) {
    const Error error = Error::from_errno(-status);
    // A filter added after the probe (a sandboxed child) refuses here: the same verdict, for good.
    if (means_unavailable(error) && options.choice != BackendChoice::uring_sqpoll) {
      std::lock_guard<std::mutex> guard(probe_lock);
      mark_unavailable_locked(error, "io_uring_setup");
    }
    return error;
  }
  open_ = true;
  // SQPOLL on non-registered files needs 5.11; before that it would fail on every fd we watch.
  if (options.choice == BackendChoice::uring_sqpoll && (params.features & IORING_FEAT_SQPOLL_NONFIXED) == 0) {
    return Error::backend_unavailable;
  }
  multishot_poll_ = features.multishot_poll && !options.uring.emulate_kernel_5_10;
  wait_timeout_ = features.wait_timeout && !options.uring.emulate_kernel_5_10;
  busy_poll_budget_us_ = options.uring.busy_poll_budget_us;
  return Error{};
}

Error UringBackend::open_buffer_ring(const ReceiveBufferOptions& options, const UringFeatures& features) {
  if (options.count == 0) return Error{};
  assert(options.valid() && "Driver::init checks the options first");
  // Without multishot recv (6.0) the epoll fallback carries these operations out instead.
  if (!features.multishot_recv) return Error::backend_unavailable;
  // liburing 2.3 has no io_uring_setup_buf_ring (2.4): the ring is page-aligned memory we map and
  // register ourselves. Mapped, not allocated: fixed at init, and released at close.
  const size_t ring_bytes = options.count * sizeof(io_uring_buf);
  const size_t buffer_bytes = size_t{options.count} * options.size;
  void* ring_memory = ::mmap(nullptr, ring_bytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  void* buffer_memory = ::mmap(nullptr, buffer_bytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (ring_memory != MAP_FAILED) buffer_ring_ = static_cast<io_uring_buf_ring*>(ring_memory);
  if (buffer_memory != MAP_FAILED) buffers_ = static_cast<std::byte*>(buffer_memory);
  buffer_count_ = options.count;
  buffer_size_ = options.size;
  if (buffer_ring_ == nullptr || buffers_ == nullptr) return Error::from_errno(ENOMEM);
  io_uring_buf_ring_init(buffer_ring_);
  io_uring_buf_reg registration{};
  registration.ring_addr = reinterpret_cast<uintptr_t>(buffer_ring_);
  registration.ring_entries = options.count;
  registration.bgid = 0;
  if (const int status = io_uring_register_buf_ring(&ring_, &registration, 0); status < 0) {
    return Error::from_errno(-status);
  }
  for (uint32_t id = 0; id < options.count; ++id) recycle_buffer(static_cast<uint16_t>(id));
  return Error{};
}

void UringBackend::recycle_buffer(uint16_t id) {
  io_uring_buf_ring_add(buffer_ring_, buffers_ + size_t{id} * buffer_size_, buffer_size_, id,
                        io_uring_buf_ring_mask(buffer_count_), 0);
  io_uring_buf_ring_advance(buffer_ring_, 1);
}

Error UringBackend::open_file_table(uint32_t capacity) {
  if (capacity == 0) return Error{};
  void* memory =
      ::mmap(nullptr, capacity * sizeof(int32_t), PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (memory == MAP_FAILED) return Error::from_errno(ENOMEM);
  next_free_file_ = static_cast<int32_t*>(memory);
  file_capacity_ = capacity;
  for (uint32_t slot = 0; slot < capacity; ++slot) {
    next_free_file_[slot] = slot + 1 < capacity ? static_cast<int32_t>(slot + 1) : -1;
  }
  free_file_head_ = 0;
  const int status = io_uring_register_files_sparse(&ring_, capacity);
  return status < 0 ? Error::from_errno(-status) : Error{};
}

Error UringBackend::open_registered_buffers(std::span<const iovec> buffers) {
  if (buffers.empty()) return Error{};
  const int status = io_uring_register_buffers(&ring_, buffers.data(), static_cast<unsigned>(buffers.size()));
  if (status < 0) return Error::from_errno(-status);
  registered_buffers_ = buffers;
  return Error{};
}

// The registered region that holds all of `op`'s buffer, or -1. A scan: a driver registers a few large
// regions (a buffer pool), not one per operation.
int UringBackend::registered_buffer_of(const Operation& op) const {
  const auto* begin = static_cast<const std::byte*>(op.buffer);
  for (size_t index = 0; index < registered_buffers_.size(); ++index) {
    const auto* base = static_cast<const std::byte*>(registered_buffers_[index].iov_base);
    if (begin >= base && begin + op.length <= base + registered_buffers_[index].iov_len) {
      return static_cast<int>(index);
    }
  }
  return -1;
}

Result<int32_t> UringBackend::register_file(int fd) {
  if (free_file_head_ < 0) return Error::from_errno(ENFILE);
  const int32_t slot = free_file_head_;
  const int status = io_uring_register_files_update(&ring_, static_cast<unsigned>(slot), &fd, 1);
  if (status < 0) return Error::from_errno(-status);
  free_file_head_ = next_free_file_[slot];
  return slot;
}

void UringBackend::unregister_file(int32_t slot) {
  // The table holds a reference to the file: until this update, a close() would not close it.
  int removed = -1;
  (void)io_uring_register_files_update(&ring_, static_cast<unsigned>(slot), &removed, 1);
  next_free_file_[slot] = free_file_head_;
  free_file_head_ = slot;
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
  // A multishot target that the kernel ends at the same moment would otherwise be started again by
  // complete_multishot, after the cancel found nothing to cancel.
  if (op.kind == OpKind::cancel && op.target->in_flight()) op.target->cancel_requested = true;
  // The table's reference would keep the file open past the close: let it go first.
  if (op.kind == OpKind::close && op.source->fixed_file >= 0) {
    unregister_file(op.source->fixed_file);
    op.source->fixed_file = -1;
  }
  return resubmit(op);
}

Error UringBackend::resubmit(Operation& op) {
  std::lock_guard<std::mutex> guard(submit_lock_);
  io_uring_sqe* sqe = next_sqe_locked();
  if (sqe == nullptr) return Error::from_errno(EBUSY);
  prepare(sqe, op);
  io_uring_sqe_set_data64(sqe, user_data_of(op));
  op.state = OpState::in_kernel;
  return Error{};
}

void UringBackend::prepare(io_uring_sqe* sqe, Operation& op) {
  const bool fixed = op.source != nullptr && op.source->fixed_file >= 0;
  const int fd = op.source == nullptr ? -1 : (fixed ? op.source->fixed_file : op.source->fd);
  switch (op.kind) {
    case OpKind::accept:
      io_uring_prep_accept(sqe, fd, op.address, op.address != nullptr ? &op.address_length : nullptr,
                           SOCK_NONBLOCK | SOCK_CLOEXEC);
      break;
    case OpKind::accept_multishot:
      io_uring_prep_multishot_accept(sqe, fd, nullptr, nullptr, SOCK_NONBLOCK | SOCK_CLOEXEC);
      break;
    case OpKind::connect:
      io_uring_prep_connect(sqe, fd, op.address, op.address_length);
      break;
    case OpKind::recv:
      io_uring_prep_recv(sqe, fd, op.buffer, op.length, 0);
      break;
    case OpKind::recv_multishot:
      // The kernel picks a buffer from group 0, the provided buffer ring, for each chunk it receives.
      io_uring_prep_recv_multishot(sqe, fd, nullptr, 0, 0);
      sqe->buf_group = 0;
      break;
    case OpKind::send:
      io_uring_prep_send(sqe, fd, op.buffer, op.length, MSG_NOSIGNAL);
      break;
    // Offset -1: the file's current position, as read(2) and write(2) use (5.6 and later).
    case OpKind::read:
      if (const int index = registered_buffer_of(op); index >= 0) {
        io_uring_prep_read_fixed(sqe, fd, op.buffer, op.length, static_cast<uint64_t>(-1), index);
      } else {
        io_uring_prep_read(sqe, fd, op.buffer, op.length, static_cast<uint64_t>(-1));
      }
      break;
    case OpKind::write:
      if (const int index = registered_buffer_of(op); index >= 0) {
        io_uring_prep_write_fixed(sqe, fd, op.buffer, op.length, static_cast<uint64_t>(-1), index);
      } else {
        io_uring_prep_write(sqe, fd, op.buffer, op.length, static_cast<uint64_t>(-1));
      }
      break;
    case OpKind::close:
      io_uring_prep_close(sqe, op.source->fd);
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
  // Set after the prep helpers, which clear the flags.
  if (fixed && op.kind != OpKind::close) sqe->flags |= IOSQE_FIXED_FILE;
  if (op.kind == OpKind::recv_multishot) sqe->flags |= IOSQE_BUFFER_SELECT;
}

void UringBackend::cancel_operations() {
  {
    std::lock_guard<std::mutex> guard(submit_lock_);
    for (Operation* op = ledger_->first(); op != nullptr; op = op->next) {
      op->cancel_requested = true;
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

bool UringBackend::submissions_pending() {
  // Under the lock: other threads move the queue's tail while they add and remove sources.
  std::lock_guard<std::mutex> guard(submit_lock_);
  return io_uring_sq_ready(&ring_) > 0;
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
  const bool must_enter = block || !reaped.any() || submissions_pending() || must_enter_to_reap();
  if (must_enter) {
    if (Error error = enter(block ? 1 : 0, timeout_ms); error.failed()) return error;
  }
  const Reaped more = reap(events.subspan(reaped.events));
  return reaped.events + more.events;
}

UringBackend::Reaped UringBackend::busy_poll(std::span<Event> events) {
  // Completions the kernel posts land in the shared ring without a system call of ours; those that wait
  // for our task work (COOP_TASKRUN) raise IORING_SQ_TASKRUN, which ends the spin. Look for a bounded time.
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
  // The kernel hands back the record's own address, which user_data_of() put there.
  Operation& op = *reinterpret_cast<Operation*>(  // NOLINT(performance-no-int-to-ptr)
      static_cast<uintptr_t>(cqe.user_data & address_mask));
  if (op.kind == OpKind::accept_multishot || op.kind == OpKind::recv_multishot) return complete_multishot(op, cqe);
  int32_t result = cqe.res;
  if (op.kind == OpKind::timeout && result == -ETIME) result = 0;  // the time passed: that is success
  if (op.kind == OpKind::close) op.source->fd = -1;                // gone even on error (close(2))
  ledger_->finish(op, result);
}

void UringBackend::complete_multishot(Operation& op, const io_uring_cqe& cqe) {
  const bool more = (cqe.flags & IORING_CQE_F_MORE) != 0;
  const bool delivered = op.kind == OpKind::accept_multishot ? cqe.res >= 0 : cqe.res > 0;
  if (delivered) {
    if (op.kind == OpKind::recv_multishot) {
      const auto id = static_cast<uint16_t>(cqe.flags >> IORING_CQE_BUFFER_SHIFT);
      op.buffer = buffers_ + size_t{id} * buffer_size_;
      OperationLedger::deliver(op, cqe.res);
      recycle_buffer(id);  // the bytes were the callback's only while it ran
    } else {
      OperationLedger::deliver(op, cqe.res);
    }
  }
  // A multishot operation also ends without an error: on CQ overflow, or early (liburing#805), or with
  // ENOBUFS when every provided buffer was taken (they are back by now). Carry on, unseen by the caller.
  const bool ended_early = !more && (delivered || cqe.res == -ENOBUFS);
  if (ended_early && !op.cancel_requested && resubmit(op).ok()) return;
  if (more) return;
  if (ended_early) return ledger_->finish(op, op.cancel_requested ? -ECANCELED : -ENOBUFS);
  ledger_->finish(op, cqe.res);
}

Ready UringBackend::ready_of(const Event& event) {
  // The poll mask io_uring returns has epoll's bit values and meanings; only our own flag is extra.
  Event plain = event;
  plain.events &= ~poll_ended_flag;
  return EpollBackend::ready_of(plain);
}

}  // namespace emio
