// SPDX-License-Identifier: MIT
#include "emio/driver/iocp_backend.h"

#include <cassert>
#include <cerrno>
#include <cstddef>
#include <new>

#include "afd_poll.h"
#include "emio/port/fd.h"
#include "emio/port/mutex.h"
#include "emio/port/socket.h"

namespace emio {
namespace {

// Sockets share a few AFD handles (slot i polls through handle i % count), as wepoll and mio share one
// among up to 32 sockets: a handle per socket would double the process's handles. Fixed here, at init.
constexpr uint32_t afd_device_count = 4;

// Once reported these hold for good (the connection is over), and AFD reports them on every later poll
// (mio#1303): never polled for again in the registration's life.
constexpr ULONG final_events = afd_poll_disconnect | afd_poll_abort | afd_poll_connect_fail;
constexpr ULONG read_events = afd_poll_receive | afd_poll_accept;

enum class PollState : uint8_t { idle, pending, cancelled };

// One registration's socket and its one poll. The completion entry points at `request` (first member,
// so the entry's lpOverlapped is the record's address): the record stays put until that completion.
struct IocpSocket {
  AfdPollRequest request{};
  uint64_t token_bits = 0;
  uint64_t polled_token_bits = 0;  // whose poll `request` is: a slot may change owner while one is out
  SOCKET base = INVALID_SOCKET;
  ULONG wanted = 0;    // what the interest asks for
  ULONG armed = 0;     // what the poll in flight asks for
  ULONG reported = 0;  // reported and not polled for since: edge emulation (see needed_events)
  PollState poll = PollState::idle;
  bool live = false;
  bool closed = false;  // AFD said AFD_POLL_LOCAL_CLOSE: the handle was closed under the registration
  bool queued = false;
};
static_assert(offsetof(IocpSocket, request) == 0, "a completion's lpOverlapped must be its socket's address");

ULONG afd_events_for(Interest interest) {
  ULONG events = afd_poll_local_close;
  if (interest.contains(Interest::readable)) events |= read_events | final_events;
  if (interest.contains(Interest::writable)) events |= afd_poll_send | afd_poll_abort | afd_poll_connect_fail;
  if (interest.contains(Interest::priority)) events |= afd_poll_receive_expedited;
  return events;
}

// As epoll words the same states (mio and wepoll map them alike): a reset or a failed connect is a
// hang-up in both directions, a FIN closes the reading side.
Ready ready_for(ULONG events) {
  Ready ready;
  if (events & read_events) ready = ready | Ready::readable;
  if (events & afd_poll_receive_expedited) ready = ready | Ready::priority;
  if (events & afd_poll_send) ready = ready | Ready::writable;
  if (events & afd_poll_disconnect) ready = ready | Ready::readable | Ready::read_closed;
  if (events & afd_poll_abort) ready = ready | Ready::readable | Ready::writable | Ready::final_states;
  if (events & afd_poll_connect_fail) ready = ready | Ready::error | Ready::final_states;
  return ready;
}

}  // namespace

// The backend's tables, in one VirtualAlloc region made at open: pages from the system, not the heap
// (as io_uring's tables are an mmap), so that a driver on caller storage allocates nothing at all.
struct IocpTables {
  AfdDevice devices[afd_device_count];
  IocpSocket* sockets = nullptr;
  uint32_t capacity = 0;      // sockets and queue entries: the driver's registration capacity
  uint32_t* queue = nullptr;  // slots whose poll must be sent, or whose reported edges wait for a clear
  uint32_t queued = 0;
  ReadinessProbe probe{};
  Waker wake_driver{};
  DWORD driver_thread = 0;  // the thread in wait(); 0 before the first
  // add and remove come from any thread (the driver's registrations lock), the flush and the completions
  // from the driver thread: this lock orders them. Never held across the wait.
  Mutex lock;

  static size_t bytes_for(uint32_t capacity) {
    return sizeof(IocpTables) + size_t{capacity} * (sizeof(IocpSocket) + sizeof(uint32_t));
  }
  static IocpTables* make(uint32_t capacity);
  static void destroy(IocpTables* tables);

  void enqueue(IocpSocket& socket) {
    if (socket.queued) return;
    socket.queued = true;
    queue[queued++] = static_cast<uint32_t>(&socket - sockets);
  }
  Error start_poll(IocpSocket& socket, ULONG events);
  ULONG needed_events(IocpSocket& socket);
  bool flush_one(IocpSocket& socket, HANDLE port);
  void flush(HANDLE port);
  bool complete(OVERLAPPED_ENTRY& entry);
};

IocpTables* IocpTables::make(uint32_t capacity) {
  void* memory = ::VirtualAlloc(nullptr, bytes_for(capacity), MEM_COMMIT | MEM_RESERVE, PAGE_READWRITE);
  if (memory == nullptr) return nullptr;
  auto* tables = new (memory) IocpTables;
  static_assert(sizeof(IocpTables) % alignof(IocpSocket) == 0 && sizeof(IocpSocket) % alignof(uint32_t) == 0);
  // One by one, not as an array new, which may put a length cookie before the first element.
  tables->sockets = reinterpret_cast<IocpSocket*>(tables + 1);
  for (uint32_t i = 0; i < capacity; ++i) new (&tables->sockets[i]) IocpSocket;
  tables->queue = reinterpret_cast<uint32_t*>(tables->sockets + capacity);
  tables->capacity = capacity;
  return tables;
}

void IocpTables::destroy(IocpTables* tables) {
  if (tables == nullptr) return;
  // The AFD handles first: closing one ends its polls, which write their records as they go.
  for (AfdDevice& device : tables->devices) device.close();
  tables->~IocpTables();  // the sockets are trivially destructible
  (void)::VirtualFree(tables, 0, MEM_RELEASE);
}

Error IocpTables::start_poll(IocpSocket& socket, ULONG events) {
  const uint32_t slot = static_cast<uint32_t>(&socket - sockets);
  if (Error error = devices[slot % afd_device_count].start_poll(socket.base, events, socket.request); error.failed()) {
    return error;
  }
  socket.poll = PollState::pending;
  socket.armed = events;
  socket.polled_token_bits = socket.token_bits;
  return Error{};
}

// Edge emulation. An AFD poll completes at once while its condition holds (a level), so an edge that was
// reported is not polled for again until the task has cleared that readiness after EAGAIN (the tick
// protocol, scheduled_io.h): only then can a new edge exist. mio re-arms on WouldBlock the same way, and
// re-arming every direction there gave a spurious writable event per read (mio#1963): here each direction
// comes back on its own clear.
ULONG IocpTables::needed_events(IocpSocket& socket) {
  const Ready current = probe.function(probe.context, Token::from_bits(socket.token_bits));
  if ((socket.reported & read_events) != 0 && !current.is_readable()) socket.reported &= ~read_events;
  if ((socket.reported & afd_poll_receive_expedited) != 0 && !current.is_priority()) {
    socket.reported &= ~ULONG{afd_poll_receive_expedited};
  }
  if ((socket.reported & afd_poll_send) != 0 && !current.is_writable()) socket.reported &= ~ULONG{afd_poll_send};
  return socket.wanted & ~socket.reported;
}

// True: the socket stays queued (a reported edge waits for its clear).
bool IocpTables::flush_one(IocpSocket& socket, HANDLE port) {
  if (!socket.live || socket.closed) return false;
  const ULONG needed = needed_events(socket);
  if (socket.poll == PollState::idle && (needed & ~ULONG{afd_poll_local_close}) != 0) {
    if (Error error = start_poll(socket, needed); error.failed()) {
      // The socket went away under its registration: its waiters hear it as epoll's EPOLLERR|EPOLLHUP.
      socket.closed = true;
      (void)::PostQueuedCompletionStatus(port, (Ready::error | Ready::final_states).bits(), socket.token_bits, nullptr);
      return false;
    }
  } else if (socket.poll == PollState::pending && (needed & ~socket.armed) != 0) {
    // A cleared edge the poll in flight does not ask for: cancel it; its completion queues the socket again.
    if (devices[(&socket - sockets) % afd_device_count].cancel_poll(socket.request).ok()) {
      socket.poll = PollState::cancelled;
    }
  }
  return (socket.reported & ~final_events) != 0;
}

void IocpTables::flush(HANDLE port) {
  uint32_t kept = 0;
  for (uint32_t i = 0; i < queued; ++i) {
    IocpSocket& socket = sockets[queue[i]];
    socket.queued = flush_one(socket, port);
    if (socket.queued) queue[kept++] = queue[i];
  }
  queued = kept;
}

// Turns an AFD completion into an event in place; false when there is nothing to report.
bool IocpTables::complete(OVERLAPPED_ENTRY& entry) {
  auto& socket = *reinterpret_cast<IocpSocket*>(entry.lpOverlapped);
  socket.poll = PollState::idle;
  const ULONG events = afd_poll_events(socket.request);
  const bool for_owner = socket.live && socket.polled_token_bits == socket.token_bits;
  if (socket.live) enqueue(socket);  // its next poll, or its new owner's first
  if (!for_owner) return false;      // removed, or the slot's next owner: the events are not theirs
  if ((events & afd_poll_local_close) != 0) socket.closed = true;
  const ULONG fresh = events & socket.wanted & ~ULONG{afd_poll_local_close};
  socket.reported |= fresh;
  const Ready ready = ready_for(fresh);
  if (ready.empty()) return false;
  entry.lpCompletionKey = static_cast<ULONG_PTR>(socket.token_bits);
  entry.dwNumberOfBytesTransferred = ready.bits();
  return true;
}

Error IocpBackend::open(const BackendOptions& options) {
  if (options.registration_capacity == 0 || options.registration_capacity > Token::max_slots) {
    return Error::from_errno(EINVAL);
  }
  if (Error error = start_winsock(); error.failed()) return error;
  port_ = ::CreateIoCompletionPort(INVALID_HANDLE_VALUE, nullptr, 0, 1);
  if (port_ == nullptr) return Error::last_windows_error();
  tables_ = IocpTables::make(options.registration_capacity);
  if (tables_ == nullptr) return Error::last_windows_error();
  tables_->probe = options.current_readiness;
  tables_->wake_driver = options.wake_driver;
  for (AfdDevice& device : tables_->devices) {
    if (Error error = device.open(port_, 0); error.failed()) return error;
  }
  return Error{};
}

void IocpBackend::close() {
  close_operations();
  IocpTables::destroy(tables_);
  tables_ = nullptr;
  if (port_ != nullptr) ::CloseHandle(port_);
  port_ = nullptr;
}

Error IocpBackend::add(int fd, Token token, Interest interest) {
  Result<SOCKET> base = base_socket_of(socket_of_fd(fd));
  if (!base.ok()) return base.error() == Error::from_errno(ENOTSOCK) ? Error::from_errno(EBADF) : base.error();
  assert(token.index() < tables_->capacity && "a token from this driver's arena");
  bool other_thread = false;
  {
    const std::lock_guard<Mutex> guard(tables_->lock);
    IocpSocket& socket = tables_->sockets[token.index()];
    socket.base = base.value();
    socket.token_bits = token.bits();
    socket.wanted = afd_events_for(interest);
    socket.reported = 0;
    socket.closed = false;
    socket.live = true;
    tables_->enqueue(socket);
    other_thread = tables_->driver_thread != ::GetCurrentThreadId();
  }
  // Polls are sent by the thread that waits (wepoll#35: AFD mixed up the polls of a socket sent from two
  // threads): a sleeping driver must turn to send this one.
  if (other_thread) tables_->wake_driver.wake();
  return Error{};
}

Error IocpBackend::remove(int fd, Token token) {
  assert(token.index() < tables_->capacity && "a token from this driver's arena");
  const std::lock_guard<Mutex> guard(tables_->lock);
  IocpSocket& socket = tables_->sockets[token.index()];
  socket.live = false;
  if (socket.poll == PollState::pending) {
    // Its completion still comes, for a record that must stay put: the slot keeps it, and drops it.
    (void)tables_->devices[token.index() % afd_device_count].cancel_poll(socket.request);
    socket.poll = PollState::cancelled;
  }
  // The socket closed before deregister: say so, as epoll says EBADF for a closed fd.
  if (fd < 0 || socket.closed || !file_identity(fd).ok()) return Error::from_errno(EBADF);
  return Error{};
}

Result<uint32_t> IocpBackend::wait(std::span<Event> events, int timeout_ms) {
  {
    const std::lock_guard<Mutex> guard(tables_->lock);
    tables_->driver_thread = ::GetCurrentThreadId();
    tables_->flush(port_);
  }
  ULONG count = 0;
  const DWORD timeout = timeout_ms < 0 ? INFINITE : static_cast<DWORD>(timeout_ms);
  if (::GetQueuedCompletionStatusEx(port_, events.data(), static_cast<ULONG>(events.size()), &count, timeout, FALSE) ==
      0) {
    const Error error = Error::last_windows_error();
    return error == Error::from_windows(WAIT_TIMEOUT) ? Result<uint32_t>(0u) : Result<uint32_t>(error);
  }
  return take_events(events.first(count));
}

uint32_t IocpBackend::take_events(std::span<Event> entries) {
  // Operations first and outside the lock: their callbacks may add or remove sources, which take it.
  complete_operations(entries);
  const std::lock_guard<Mutex> guard(tables_->lock);
  uint32_t kept = 0;
  for (Event& entry : entries) {
    if (entry.lpCompletionKey == operation_key) continue;  // an operation's, completed above
    // No OVERLAPPED: posted by this backend (the wake, a failed poll), already in the event's form.
    if (entry.lpOverlapped == nullptr || tables_->complete(entry)) entries[kept++] = entry;
  }
  return kept;
}

Error IocpBackend::open_wake(Token wake_token) {
  wake_token_ = wake_token;
  return Error{};
}

Error IocpBackend::signal_wake() {
  if (::PostQueuedCompletionStatus(port_, 0, static_cast<ULONG_PTR>(wake_token_.bits()), nullptr) == 0) {
    return Error::last_windows_error();
  }
  return Error{};
}

}  // namespace emio
