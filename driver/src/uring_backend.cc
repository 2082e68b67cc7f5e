// SPDX-License-Identifier: MIT
// The io_uring backend's set-up, readiness and turn: the probe, the ring and its task-work mode, the
// driver thread's submission queue, and wait(). Operations: uring_operations.cc; the request queue and
// the removal table: uring_requests.cc.
#include <fcntl.h>
#include <signal.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <sys/sysinfo.h>
#include <unistd.h>

#include <algorithm>
#include <cassert>
#include <cerrno>
#include <cstdint>

#include "emio/driver/epoll_backend.h"
#include "emio/driver/uring_backend.h"
#include "emio/port/clock.h"
#include "emio/port/log.h"

namespace emio {
namespace {

// user_data layout: readiness polls carry their Token (tag 0 for sources, 0xFF for the driver's wake);
// operations carry the record's address under operation_tag; the backend's own submissions (poll
// removals, shutdown cancels, wait timeouts) carry internal_tag. User-space addresses fit in 56 bits on
// every Linux target, 5-level paging included.
constexpr unsigned tag_shift = Token::tag_shift;

// A removal the kernel refused because its poll was being woken is asked again within the same wait, at
// most this many times; then at the start of the next wait.
constexpr int removal_retry_rounds = 4;

// How long a full SQ waits for the SQPOLL thread to take entries before the submission says EBUSY.
constexpr uint64_t sq_room_wait_ns = 1'000'000'000u;

// --- The probe: once per process ---

struct ProbeOutcome {
  bool done = false;
  Error unavailable{};  // set once io_uring was found unusable: epoll for the life of the process
  UringFeatures features{};
  bool said_single_shot = false;      // logged: automatic runs epoll where polls are single-shot
  bool said_no_sparse_files = false;  // logged: no sparse file table, operations use plain fds
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

// The opcodes completion operations and readiness submit (operation.h; POLL_ADD and ASYNC_CANCEL for
// readiness, TIMEOUT for waits on kernels without IORING_FEAT_EXT_ARG).
constexpr int opcodes_used[] = {IORING_OP_POLL_ADD, IORING_OP_ASYNC_CANCEL, IORING_OP_TIMEOUT,
                                IORING_OP_ACCEPT,   IORING_OP_CONNECT,      IORING_OP_RECV,
                                IORING_OP_SEND,     IORING_OP_READ,         IORING_OP_WRITE,
                                IORING_OP_CLOSE,    IORING_OP_READ_FIXED,   IORING_OP_WRITE_FIXED};

UringFeatures features_of(io_uring& ring) {
  UringFeatures features;
  features.wait_timeout = (ring.features & IORING_FEAT_EXT_ARG) != 0;
  // Multishot POLL_ADD has no opcode of its own: it came in 5.13 with IORING_FEAT_RSRC_TAGS.
  features.multishot_poll = (ring.features & IORING_FEAT_RSRC_TAGS) != 0;
  // On the stack, not io_uring_get_probe_ring(), which mallocs.
  alignas(io_uring_probe) unsigned char storage[sizeof(io_uring_probe) + 256 * sizeof(io_uring_probe_op)] = {};
  auto* probe = reinterpret_cast<io_uring_probe*>(storage);
  if (io_uring_register_probe(&ring, probe, 256) == 0) {
    // Multishot accept, buffer rings and IORING_ASYNC_CANCEL_ANY came with IORING_OP_SOCKET (5.19);
    // multishot recv with IORING_OP_SEND_ZC (6.0). Probing the opcodes that arrived with them is the
    // only way to ask.
    features.multishot_accept = opcode_supported(probe, IORING_OP_SOCKET);
    features.cancel_any = features.multishot_accept;
    features.multishot_recv = opcode_supported(probe, IORING_OP_SEND_ZC);
    // Without FAST_POLL (5.7) a recv on an empty socket would park an io-wq thread per operation.
    features.completion_operations = (ring.features & IORING_FEAT_FAST_POLL) != 0;
    for (const int opcode : opcodes_used) features.completion_operations &= opcode_supported(probe, opcode);
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
      probe_outcome.features = features_of(ring);
      // FEAT_NODROP (5.5): overflowing completions are kept, not lost. Below it, we do not go.
      if ((ring.features & IORING_FEAT_NODROP) == 0) {
        mark_unavailable_locked(Error::backend_unavailable, "probe (no IORING_FEAT_NODROP)");
      } else if (!probe_outcome.features.completion_operations) {
        // The driver runs operations natively whenever it runs io_uring (5.7 and the probe, 5.6).
        mark_unavailable_locked(Error::backend_unavailable, "probe (no IORING_FEAT_FAST_POLL or opcode)");
      }
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

bool is_power_of_two(uint32_t value) { return value != 0 && (value & (value - 1)) == 0; }

}  // namespace

UringFeatures UringBackend::features() {
  std::lock_guard<std::mutex> guard(probe_lock);
  return probe_outcome.features;
}

UringBackend::~UringBackend() { close_ring(); }

Error UringBackend::validate(const BackendOptions& options) {
  const UringOptions& uring = options.uring;
  const Error invalid = Error::from_errno(EINVAL);
  // The kernel would round 3 up to 4 and refuse 0 or 65536 with EINVAL, which must not read as "no
  // io_uring here".
  if (!is_power_of_two(uring.sq_entries) || uring.sq_entries > max_sq_entries) return invalid;
  if (uring.sqpoll_cpu < -1 || (uring.sqpoll_cpu >= 0 && uring.sqpoll_cpu >= get_nprocs_conf())) return invalid;
  if (uring.busy_poll_budget_us > max_busy_poll_budget_us) return invalid;
  if (uring.registered_file_capacity > max_registered_files) return invalid;
  if (uring.registered_buffers.size() > max_registered_buffers) return invalid;
  if (!options.receive_buffers.valid() || options.registration_capacity > Token::max_slots) return invalid;
  return Error{};
}

void UringBackend::close_ring() {
  if (open_) {
    const bool bound = bound_.load(std::memory_order_acquire);
    if (bound && on_driver_thread()) {
      // Polls still armed at exit are cancelled by the kernel's exit work, which queues their task work
      // to this thread with TWA_SIGNAL (on kernels without COOP/DEFER_TASKRUN): this thread's next
      // epoll_wait would fail with a spurious EINTR. Cancel them now, inside an io_uring_enter that runs
      // that work (IORING_ASYNC_CANCEL_ANY, 5.19; older kernels refuse it harmlessly).
      if (io_uring_sqe* sqe = next_sqe(); sqe != nullptr) {
        io_uring_prep_cancel64(sqe, 0, IORING_ASYNC_CANCEL_ANY | IORING_ASYNC_CANCEL_ALL);
        io_uring_sqe_set_data64(sqe, internal_data(Internal::ignored, 0));
        (void)enter(1, 100);
      }
    } else if (bound && ring_fd_registered_) {
      // The registered ring fd lives in the driver thread's io_uring context and holds the ring open:
      // only that thread can let go of it (or its exit does).
      log_message(LogLevel::warning,
                  "io_uring ring closed on another thread than the driver's: it stays open until the driver "
                  "thread exits");
    }
    io_uring_queue_exit(&ring_);  // also unregisters the ring fd (on the driver thread)
  }
  open_ = false;
  if (buffer_ring_ != nullptr) (void)::munmap(buffer_ring_, buffer_count_ * sizeof(io_uring_buf));
  if (buffers_ != nullptr) (void)::munmap(buffers_, size_t{buffer_count_} * buffer_size_);
  if (next_free_file_ != nullptr) (void)::munmap(next_free_file_, file_capacity_ * sizeof(int32_t));
  if (requests_ != nullptr) (void)::munmap(requests_, table_bytes_);
  buffer_ring_ = nullptr;
  buffers_ = nullptr;
  next_free_file_ = nullptr;
  file_capacity_ = 0;
  requests_ = nullptr;
  removals_ = nullptr;
  unpublished_polls_ = nullptr;
  unpublished_poll_capacity_ = unpublished_poll_count_ = 0;
  request_capacity_ = add_request_limit_ = request_head_ = request_count_ = 0;
  removal_capacity_ = removal_count_ = removal_retry_count_ = named_removal_count_ = 0;
  named_removal_asked_again_ = false;
  table_bytes_ = 0;
  bound_.store(false, std::memory_order_release);
  driver_thread_ = std::thread::id{};
  ring_disabled_ = register_ring_fd_ = ring_fd_registered_ = false;
  deferred_error_ = Error{};
  ring_ = io_uring{};
}

Error UringBackend::open(const BackendOptions& options) {
  if (Error invalid = validate(options); invalid.failed()) return invalid;
  UringFeatures features;
  if (Error error = probe_once(features); error.failed()) return error;
  const bool single_shot = !features.multishot_poll || options.uring.emulate_kernel_5_10;
  if (single_shot && options.choice == BackendChoice::automatic) {
    // A single-shot poll costs a submission per event to re-arm; epoll costs nothing per event. Only an
    // explicit io_uring choice runs single-shot polls.
    std::lock_guard<std::mutex> guard(probe_lock);
    if (!probe_outcome.said_single_shot) {
      probe_outcome.said_single_shot = true;
      log_message(LogLevel::warning,
                  "io_uring has single-shot polls only here (multishot POLL_ADD needs 5.13): automatic readiness "
                  "runs on epoll");
    }
    return Error::backend_unavailable;
  }
  if (Error error = open_ring(options, features); error.failed()) {
    close_ring();
    return error;
  }
  Error error = open_tables(options.registration_capacity);
  if (error.ok()) error = open_buffer_ring(options.receive_buffers, features);
  if (error.ok()) error = open_file_table(options.uring.registered_file_capacity, options.uring.emulate_kernel_5_10);
  if (error.ok()) error = open_registered_buffers(options.uring.registered_buffers);
  if (error.failed()) close_ring();
  wake_driver_ = options.wake_driver;
  return error;
}

Error UringBackend::open_ring(const BackendOptions& options, const UringFeatures& features) {
  io_uring_params base{};
  const bool emulate = options.uring.emulate_kernel_5_10;
  struct Attempt {
    uint32_t flags;
    UringTaskWork task_work;
  };
  // The best task-work mode first; each older kernel refuses the flags it lacks with EINVAL.
  // - DEFER_TASKRUN (6.1, with SINGLE_ISSUER 6.0): completions run only when the driver thread waits, and
  //   never interrupt any thread. Its submitter is fixed when the ring is enabled: R_DISABLED (5.10) keeps
  //   it disabled until the first wait(), so that the thread that turns the driver is the submitter, not
  //   the one that ran init. TASKRUN_FLAG tells a busy-poll turn that work waits for an enter.
  // - COOP_TASKRUN (5.19): no IPI; the work runs at the driver thread's next system call.
  // - neither: TWA_SIGNAL, each completion interrupts the driver thread.
  const Attempt modern[] = {
      {IORING_SETUP_SINGLE_ISSUER | IORING_SETUP_DEFER_TASKRUN | IORING_SETUP_TASKRUN_FLAG | IORING_SETUP_R_DISABLED,
       UringTaskWork::deferred},
      {IORING_SETUP_COOP_TASKRUN | IORING_SETUP_TASKRUN_FLAG, UringTaskWork::cooperative},
      {0, UringTaskWork::signal},
  };
  // SQPOLL refuses every task-work flag (its kernel thread runs the work); a 5.10 kernel knows none.
  const Attempt plain[] = {{0, UringTaskWork::signal}};
  std::span<const Attempt> attempts = modern;
  if (options.choice == BackendChoice::uring_sqpoll) {
    base.flags |= IORING_SETUP_SQPOLL;
    base.sq_thread_idle = options.uring.sqpoll_idle_ms;
    if (options.uring.sqpoll_cpu >= 0) {
      base.flags |= IORING_SETUP_SQ_AFF;
      base.sq_thread_cpu = static_cast<uint32_t>(options.uring.sqpoll_cpu);
    }
    attempts = plain;
  } else if (emulate) {
    attempts = plain;
  }
  int status = -EINVAL;
  io_uring_params params{};
  for (const Attempt& attempt : attempts) {
    params = base;
    params.flags |= attempt.flags;
    status = io_uring_queue_init_params(options.uring.sq_entries, &ring_, &params);
    task_work_ = attempt.task_work;
    if (status != -EINVAL) break;
  }
  if (options.choice == BackendChoice::uring_sqpoll) task_work_ = UringTaskWork::sqpoll_thread;
  if (status < 0) {
    const Error error = Error::from_errno(-status);
    // A filter added after the probe (a sandboxed child) refuses here: the same verdict, for good. An
    // EINVAL, with options validate() accepted, concerns this set-up only (an offline SQPOLL CPU): this
    // driver falls back, the next one tries again.
    const bool refused = error == Error::from_errno(ENOSYS) || error == Error::from_errno(EPERM);
    if (refused && options.choice != BackendChoice::uring_sqpoll) {
      std::lock_guard<std::mutex> guard(probe_lock);
      mark_unavailable_locked(error, "io_uring_setup");
    }
    return error;
  }
  open_ = true;
  ring_disabled_ = (params.flags & IORING_SETUP_R_DISABLED) != 0;
  // A registered ring fd (5.18) saves the fd lookup in every io_uring_enter. The registration belongs
  // to the registering thread: the first wait() makes it.
  register_ring_fd_ = !emulate;
  // SQPOLL on non-registered files needs 5.11; before that it would fail on every fd we watch.
  if (options.choice == BackendChoice::uring_sqpoll && (params.features & IORING_FEAT_SQPOLL_NONFIXED) == 0) {
    return Error::backend_unavailable;
  }
  multishot_poll_ = features.multishot_poll && !emulate;
  wait_timeout_ = features.wait_timeout && !emulate;
  cancel_any_ = features.cancel_any && !emulate;
  busy_poll_budget_us_ = options.uring.busy_poll_budget_us;
  return Error{};
}

Error UringBackend::open_tables(uint32_t registration_capacity) {
  // Every live registration may have an add queued, and every registration removed since the driver last
  // applied the queue a removal (a slot removed, reused and removed again finds its add still queued and
  // cancels it). Adds stop at capacity + 1 (the wake poll), so removals always find room: 2C + 2 entries.
  const uint32_t capacity = std::max<uint32_t>(registration_capacity, 1);
  request_capacity_ = 2 * capacity + 2;
  add_request_limit_ = capacity + 1;
  // Removals wait for the kernel's word here: one per registration removed within a turn or two, in the
  // common case. Churn on the driver thread can exceed any size; those removals go out named by their
  // token instead (start_removal), so the size is a cost, not a limit.
  removal_capacity_ = 2 * capacity + 2;
  // A poll per registration and the wake's may wait in the SQ at once (a withdrawn one leaves the table).
  unpublished_poll_capacity_ = capacity + 1;
  table_bytes_ = size_t{request_capacity_} * sizeof(Request) + size_t{removal_capacity_} * sizeof(Removal) +
                 size_t{unpublished_poll_capacity_} * sizeof(UnpublishedPoll);
  void* memory = ::mmap(nullptr, table_bytes_, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (memory == MAP_FAILED) {
    table_bytes_ = 0;
    return Error::from_errno(ENOMEM);
  }
  static_assert(alignof(Removal) <= alignof(Request));
  requests_ = static_cast<Request*>(memory);
  removals_ = reinterpret_cast<Removal*>(requests_ + request_capacity_);  // zero-filled: all unused
  static_assert(alignof(UnpublishedPoll) <= alignof(Removal) && sizeof(Removal) % alignof(UnpublishedPoll) == 0);
  unpublished_polls_ = reinterpret_cast<UnpublishedPoll*>(removals_ + removal_capacity_);
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

Error UringBackend::open_file_table(uint32_t capacity, bool emulate_kernel_5_10) {
  if (capacity == 0) return Error{};
  // A sparse table (5.19) lets attach() fill slots one by one. Without it, operations use plain fds: the
  // kernel looks each fd up per submission, which costs a little and changes nothing else.
  const int status = emulate_kernel_5_10 ? -EINVAL : io_uring_register_files_sparse(&ring_, capacity);
  if (status == -EINVAL) {
    std::lock_guard<std::mutex> guard(probe_lock);
    if (!probe_outcome.said_no_sparse_files) {
      probe_outcome.said_no_sparse_files = true;
      log_message(LogLevel::warning,
                  "io_uring has no sparse file table here (5.19): operations use plain fds, not registered files");
    }
    return Error{};
  }
  if (status < 0) return Error::from_errno(-status);
  void* memory =
      ::mmap(nullptr, capacity * sizeof(int32_t), PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (memory == MAP_FAILED) return Error::from_errno(ENOMEM);
  next_free_file_ = static_cast<int32_t*>(memory);
  file_capacity_ = capacity;
  for (uint32_t slot = 0; slot < capacity; ++slot) {
    next_free_file_[slot] = slot + 1 < capacity ? static_cast<int32_t>(slot + 1) : -1;
  }
  free_file_head_ = 0;
  return Error{};
}

Error UringBackend::open_registered_buffers(std::span<const iovec> buffers) {
  if (buffers.empty()) return Error{};
  const int status = io_uring_register_buffers(&ring_, buffers.data(), static_cast<unsigned>(buffers.size()));
  if (status < 0) return Error::from_errno(-status);
  registered_buffers_ = buffers;
  return Error{};
}

// --- The driver thread and the submission queue ---

Error UringBackend::bind_driver_thread() {
  std::lock_guard<std::mutex> guard(requests_lock_);
  if (ring_disabled_) {
    // SINGLE_ISSUER takes the enabling task as the ring's only submitter (liburing 2.3's shared library
    // does not export io_uring_enable_rings: the system call itself).
    if (::syscall(__NR_io_uring_register, ring_.ring_fd, IORING_REGISTER_ENABLE_RINGS, nullptr, 0) < 0) {
      return Error::last_os_error();
    }
    ring_disabled_ = false;
  }
  // 5.18; without it each io_uring_enter looks the ring's file up, which is all it costs.
  if (register_ring_fd_) ring_fd_registered_ = io_uring_register_ring_fd(&ring_) == 1;
  driver_thread_ = std::this_thread::get_id();
  bound_.store(true, std::memory_order_release);
  return Error{};
}

unsigned UringBackend::publish_submissions() {
  // What liburing's __io_uring_flush_sq does: the release store publishes the entries with the tail.
  io_uring_sq& sq = ring_.sq;
  unpublished_poll_count_ = 0;  // the kernel may take them from now on
  if (sq.sqe_head != sq.sqe_tail) {
    sq.sqe_head = sq.sqe_tail;
    io_uring_smp_store_release(sq.ktail, sq.sqe_tail);
  }
  return io_uring_sq_ready(&ring_);
}

Error UringBackend::flush_submissions() {
  if (Error error = enter(0, 0); error.failed() && error != Error::from_errno(EINTR)) return error;
  if (!sqpoll()) return Error{};
  // SQPOLL: the kernel thread takes entries when it runs; wait until it has made room
  // (IORING_ENTER_SQ_WAIT). The kernel may answer before the head we read has moved (it counts entries
  // taken, then publishes the head after the batch): look again, for a bounded time.
  const uint64_t give_up_ns = monotonic_now_ns() + sq_room_wait_ns;
  while (io_uring_sq_space_left(&ring_) == 0) {
    if (monotonic_now_ns() > give_up_ns) return Error::from_errno(EBUSY);
    if (const int status = io_uring_sqring_wait(&ring_); status < 0) return Error::from_errno(-status);
  }
  return Error{};
}

io_uring_sqe* UringBackend::next_sqe() {
  io_uring_sqe* sqe = io_uring_get_sqe(&ring_);
  // Before the first wait() the ring may still be disabled: nothing can leave yet.
  if (sqe != nullptr || !bound_.load(std::memory_order_acquire)) return sqe;
  if (flush_submissions().failed()) return nullptr;
  return io_uring_get_sqe(&ring_);
}

Error UringBackend::arm_poll(int fd, Token token, Interest interest) {
  io_uring_sqe* sqe = next_sqe();
  if (sqe == nullptr) return Error::from_errno(EBUSY);
  // Multishot poll posts one completion per wake-up of the file, which is epoll's edge-triggered
  // contract; a single-shot poll (5.10) ends with its first completion and the driver re-arms it.
  if (multishot_poll_) {
    io_uring_prep_poll_multishot(sqe, fd, poll_mask_of(interest));
  } else {
    io_uring_prep_poll_add(sqe, fd, poll_mask_of(interest));
  }
  io_uring_sqe_set_data64(sqe, token.bits());
  if (unpublished_poll_count_ < unpublished_poll_capacity_) {
    unpublished_polls_[unpublished_poll_count_++] = UnpublishedPoll{token.bits(), sqe};
  }
  return Error{};
}

bool UringBackend::withdraw_unpublished_poll(uint64_t token_bits) {
  for (uint32_t index = 0; index < unpublished_poll_count_; ++index) {
    if (unpublished_polls_[index].token_bits != token_bits) continue;
    io_uring_sqe* sqe = unpublished_polls_[index].sqe;
    io_uring_prep_nop(sqe);  // its completion is an internal one, not an event (reap)
    io_uring_sqe_set_data64(sqe, internal_data(Internal::ignored, 0));
    unpublished_polls_[index] = unpublished_polls_[--unpublished_poll_count_];
    return true;
  }
  return false;
}

Error UringBackend::add(int fd, Token token, Interest interest) {
  // The driver thread's submission leaves with its next enter, batched with the turn's others.
  if (on_driver_thread()) return arm_poll(fd, token, interest);
  return queue_request(Request{token.bits(), fd, interest.bits(), true});
}

Error UringBackend::remove(int fd, Token token) {
  // The fd may be closed already; epoll says EBADF then, and so do we, after removing the poll anyway.
  const Error fd_status = ::fcntl(fd, F_GETFD) < 0 ? Error::last_os_error() : Error{};
  // An add still in the queue never reached the kernel: dropping it is the whole removal.
  if (cancel_queued_add(token.bits())) return fd_status;
  if (on_driver_thread()) {
    if (!withdraw_unpublished_poll(token.bits())) start_removal(token.bits());
    return fd_status;
  }
  if (Error queued = queue_request(Request{token.bits(), fd, 0, false}); queued.failed()) return queued;
  return fd_status;
}

bool UringBackend::must_enter_to_reap() const {
  // Completions kept in the kernel after an overflow, or task work the kernel deferred to us, reach
  // the ring only through io_uring_enter.
  const unsigned flags = IO_URING_READ_ONCE(*ring_.sq.kflags);
  return (flags & (IORING_SQ_CQ_OVERFLOW | IORING_SQ_TASKRUN)) != 0;
}

Error UringBackend::enter(uint32_t min_complete, int timeout_ms) {
  if (timeout_ms > 0 && min_complete > 0 && !wait_timeout_) {
    // Before 5.11 a wait has no timeout of its own: a timeout submission that also completes as soon
    // as one other completion arrives (count 1) bounds it, as liburing does.
    if (io_uring_sqe* sqe = next_sqe(); sqe != nullptr) {
      wait_timespec_.tv_sec = timeout_ms / 1000;
      wait_timespec_.tv_nsec = static_cast<long long>(timeout_ms % 1000) * 1000000;
      io_uring_prep_timeout(sqe, &wait_timespec_, 1, 0);
      io_uring_sqe_set_data64(sqe, internal_data(Internal::ignored, 0));
    }
  }
  const unsigned to_submit = publish_submissions();
  unsigned flags = IORING_ENTER_GETEVENTS;
  if (sqpoll()) {
    // The kernel thread sets NEED_WAKEUP and then looks at the tail once more before it sleeps; we
    // store the tail and then look at the flag. Without a full barrier between our store and our load
    // both may miss the other's and the entries wait for the next wake-up (liburing's io_uring_smp_mb).
    io_uring_smp_mb();
    if (to_submit > 0 && (IO_URING_READ_ONCE(*ring_.sq.kflags) & IORING_SQ_NEED_WAKEUP) != 0) {
      flags |= IORING_ENTER_SQ_WAKEUP;
    } else if (min_complete == 0 && !must_enter_to_reap()) {
      return Error{};  // the kernel thread submits; nothing to wait for: no system call at all
    }
  }
  int ring_fd = ring_.ring_fd;
  if (ring_fd_registered_) {
    ring_fd = ring_.enter_ring_fd;
    flags |= IORING_ENTER_REGISTERED_RING;
  }
  int status = 0;
  if (min_complete > 0 && timeout_ms >= 0 && wait_timeout_) {
    __kernel_timespec timeout{timeout_ms / 1000, static_cast<long long>(timeout_ms % 1000) * 1000000};
    io_uring_getevents_arg argument{};
    argument.sigmask_sz = _NSIG / 8;
    argument.ts = reinterpret_cast<uintptr_t>(&timeout);
    status = io_uring_enter2(ring_fd, to_submit, min_complete, flags | IORING_ENTER_EXT_ARG,
                             reinterpret_cast<sigset_t*>(&argument), sizeof argument);
  } else {
    status = io_uring_enter(ring_fd, to_submit, min_complete, flags, nullptr);
  }
  // ETIME: the wait timed out. EBUSY/EAGAIN: the kernel is short of room and the caller will reap
  // and come back. Neither is a failure of the turn.
  if (status >= 0 || status == -ETIME || status == -EBUSY || status == -EAGAIN) return Error{};
  if (status == -EBADR) {
    // FEAT_NODROP keeps overflowing completions unless the kernel could not allocate room for one; it
    // then drops it and says EBADR once. An event or an operation's completion is lost.
    log_message(LogLevel::error, "io_uring dropped a completion (EBADR): an event or an operation's end is lost");
  }
  return Error::from_errno(-status);
}

Result<uint32_t> UringBackend::wait(std::span<Event> events, int timeout_ms) {
  if (!bound_.load(std::memory_order_acquire)) {
    if (Error error = bind_driver_thread(); error.failed()) return error;
  } else if (!on_driver_thread()) {
    return Error::from_errno(EEXIST);  // the kernel's answer to a second submitter (SINGLE_ISSUER)
  }
  if (deferred_error_.failed()) {
    const Error error = deferred_error_;
    deferred_error_ = Error{};
    return error;
  }
  apply_requests();
  submit_removal_retries();
  Reaped reaped = reap(events);
  Error failure{};
  int wait_ms = timeout_ms;
  if (!reaped.any() && timeout_ms != 0 && busy_poll_budget_us_ > 0) {
    // Submit first: the spin can only see completions of what reached the kernel. Spin within the
    // turn's own timeout, and block for what is left of it.
    failure = enter(0, 0);
    uint64_t spin_ns = uint64_t{busy_poll_budget_us_} * 1000u;
    if (timeout_ms > 0) spin_ns = std::min<uint64_t>(spin_ns, uint64_t(timeout_ms) * 1000000u);
    const uint64_t spin_start_ns = monotonic_now_ns();
    if (failure.ok()) reaped = busy_poll(events, spin_ns);
    if (timeout_ms > 0) {
      const uint64_t spent_ms = (monotonic_now_ns() - spin_start_ns) / 1000000u;
      wait_ms = spent_ms >= uint64_t(timeout_ms) ? 0 : timeout_ms - static_cast<int>(spent_ms);
    }
  }
  const bool block = !reaped.any() && wait_ms != 0;
  // Submissions queued since the last turn leave with this enter, together with the wait: one system
  // call for both. Something reaped and nothing to hand over: no system call at all.
  const bool unsubmitted = ring_.sq.sqe_tail != ring_.sq.sqe_head;
  if (failure.ok() && (block || !reaped.any() || unsubmitted || must_enter_to_reap())) {
    failure = enter(block ? 1 : 0, wait_ms);
  }
  Reaped more = reap(events.subspan(reaped.events));
  // A removal refused because its poll was being woken (EALREADY) is asked again at once, now that the
  // wake-up's work has run: the socket closes within this turn.
  for (int round = 0;
       round < removal_retry_rounds && (removal_retry_count_ > 0 || named_removal_asked_again_) && failure.ok();
       ++round) {
    named_removal_asked_again_ = false;
    submit_removal_retries();
    failure = enter(0, 0);
    const Reaped extra = reap(events.subspan(reaped.events + more.events));
    more.events += extra.events;
    more.completions += extra.completions;
  }
  const uint32_t total = reaped.events + more.events;
  if (failure.failed()) {
    // Events reaped before the enter failed are returned, never dropped; EINTR needs no word further,
    // any other error is this turn's result if nothing was reaped, else the next turn's.
    if (total > 0 || reaped.completions + more.completions > 0) {
      if (failure != Error::from_errno(EINTR)) deferred_error_ = failure;
      return total;
    }
    return failure;
  }
  return total;
}

UringBackend::Reaped UringBackend::busy_poll(std::span<Event> events, uint64_t spin_ns) {
  // Completions the kernel posts land in the shared ring without a system call of ours; those that wait
  // for our task work (COOP/DEFER_TASKRUN) raise IORING_SQ_TASKRUN, which ends the spin.
  const uint64_t give_up_ns = monotonic_now_ns() + spin_ns;
  Reaped reaped;
  while (!reaped.any() && monotonic_now_ns() < give_up_ns && !must_enter_to_reap()) reaped = reap(events);
  return reaped;
}

// The oldest completion in the shared ring, or null when it is empty. liburing's io_uring_peek_cqe calls
// into the library for an empty ring (to enter for overflowed completions or deferred task work), which
// every reap ends with: about 90 instructions a time, or 36 per request in emio-echo. wait() enters for
// those itself (must_enter_to_reap).
io_uring_cqe* UringBackend::peek_completion() {
  if (io_uring_cq_ready(&ring_) == 0) return nullptr;
  return &ring_.cq.cqes[io_uring_cqe_index(&ring_, *ring_.cq.khead, ring_.cq.ring_mask)];
}

UringBackend::Reaped UringBackend::reap(std::span<Event> events) {
  Reaped reaped;
  while (io_uring_cqe* cqe = peek_completion()) {
    const io_uring_cqe copy = *cqe;
    const uint64_t tag = copy.user_data >> tag_shift;
    if (tag == operation_tag) {
      io_uring_cqe_seen(&ring_, cqe);  // first: the completion may submit, and may need the slot
      complete(copy);
      reaped.completions += 1;
      continue;
    }
    if (tag == internal_tag || tag == named_removal_tag) {
      io_uring_cqe_seen(&ring_, cqe);  // first: asking again may need the slot
      if (tag == internal_tag) {
        (void)reap_removal(copy);
      } else {
        reap_named_removal(copy);
      }
      continue;
    }
    // A poll's CQE, a source's or the wake's.
    if (reaped.events == events.size()) break;  // left in the ring for the next turn
    const bool last = (copy.flags & IORING_CQE_F_MORE) == 0;
    if (last && removal_count_ > 0 && poll_ended_while_removed(copy)) {
      io_uring_cqe_seen(&ring_, cqe);  // the end of a poll we removed: its removal is complete
      continue;
    }
    Event& event = events[reaped.events++];
    event.data.u64 = copy.user_data;
    if (copy.res == -ECANCELED) {
      // Nobody here asked: the kernel cancelled the poll (the task that armed it exited, for one). The
      // source would go deaf: report the poll as ended, with nothing ready, and the driver arms it again.
      event.events = poll_ended_flag;
    } else if (copy.res < 0) {
      event.events = EPOLLERR;  // a failed poll cannot be armed again as it is: an error on the source
    } else {
      event.events = static_cast<uint32_t>(copy.res) | (last ? poll_ended_flag : 0u);
    }
    io_uring_cqe_seen(&ring_, cqe);
  }
  return reaped;
}

Ready UringBackend::ready_of(const Event& event) {
  // The poll mask io_uring returns has epoll's bit values and meanings; only our own flag is extra.
  Event plain = event;
  plain.events &= ~poll_ended_flag;
  return EpollBackend::ready_of(plain);
}

}  // namespace emio
