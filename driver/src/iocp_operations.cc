// SPDX-License-Identifier: MIT
// The IOCP backend's completion operations: each kind's overlapped call, its completion, CancelIoEx, and
// the shutdown that waits for every operation's completion. See iocp_backend.h.
//
// Exactly once: every overlapped call that is started ends in exactly one completion packet (the port
// gets one also for a call that succeeds at once: no socket skips the port on success), and a call that
// fails at once gets one posted by submit. A record is freed only by its own packet, so no late packet
// can reach a record that was given to another operation; a cancelled operation completes with that
// packet too (ECANCELED, or what it had done when the cancel came too late).
// clang-format off
#include <winsock2.h>
#include <mswsock.h>
#include <windows.h>
#include <winternl.h>
// clang-format on

#include <algorithm>
#include <cassert>
#include <cerrno>
#include <cstdint>
#include <cstring>
#include <new>

#include "emio/driver/iocp_backend.h"
#include "emio/port/clock.h"
#include "emio/port/log.h"
#include "emio/port/socket.h"

namespace emio {

// AcceptEx writes the local and the remote address, each into 16 bytes more than the largest address.
constexpr DWORD accept_address_bytes = sizeof(sockaddr_storage) + 16;

// One native operation in flight: its OVERLAPPED, and what its call needs beside it.
struct IocpOperationRecord {
  OVERLAPPED overlapped{};  // first: a packet's lpOverlapped is the record's address
  Operation* op = nullptr;  // null: free
  // A cancel that CancelIoEx started for this operation: it completes right after it.
  Operation* canceller = nullptr;
  SOCKET accepted = INVALID_SOCKET;  // accept: the socket AcceptEx hands the connection to
  int32_t posted_result = 0;         // a failure the call reported at once: its posted packet's result
  bool posted = false;
  uint32_t next_free = 0;
  char addresses[2 * accept_address_bytes] = {};
};
static_assert(offsetof(IocpOperationRecord, overlapped) == 0, "a packet's lpOverlapped must be its record's address");

// Made at init in one VirtualAlloc region, as the readiness tables are (iocp_backend.cc).
struct IocpOperationTable {
  LPFN_ACCEPTEX accept_ex = nullptr;
  LPFN_CONNECTEX connect_ex = nullptr;
  LPFN_GETACCEPTEXSOCKADDRS accept_ex_sockaddrs = nullptr;
  OperationLedger* ledger = nullptr;
  IocpOperationRecord* records = nullptr;
  uint32_t capacity = 0;
  uint32_t free_head = 0;  // == capacity: none free
  uint32_t free_tail = 0;
  uint32_t in_use = 0;
  // The entries wait() took and the next to complete: a completion that shuts the driver down drains
  // the port from inside that loop, and must complete the rest of the batch first.
  OVERLAPPED_ENTRY* batch = nullptr;
  uint32_t batch_size = 0;
  uint32_t batch_next = 0;

  static size_t bytes_for(uint32_t capacity) {
    return sizeof(IocpOperationTable) + size_t{capacity} * sizeof(IocpOperationRecord);
  }

  bool exhausted() const { return free_head >= capacity; }
  // False for another driver's OVERLAPPED: a socket attached to two drivers keeps the first one's port.
  bool holds(const OVERLAPPED* overlapped) const {
    const auto address = reinterpret_cast<uintptr_t>(overlapped);
    const auto first = reinterpret_cast<uintptr_t>(records);
    return address >= first && address < first + size_t{capacity} * sizeof(IocpOperationRecord);
  }
  IocpOperationRecord& take(Operation& op) {
    assert(!exhausted() && "the ledger holds no more operations than there are records");
    IocpOperationRecord& record = records[free_head];
    free_head = record.next_free;
    in_use += 1;
    record.op = &op;
    record.overlapped = OVERLAPPED{};
    op.engine = &record;
    return record;
  }
  void give_back(IocpOperationRecord& record) {
    in_use -= 1;
    // To the back of the list: its OVERLAPPED is handed out again as late as the table allows.
    record = IocpOperationRecord{.next_free = capacity};
    const auto index = static_cast<uint32_t>(&record - records);
    if (exhausted()) {
      free_head = index;
    } else {
      records[free_tail].next_free = index;
    }
    free_tail = index;
  }
};

namespace {

SOCKET socket_of(const Operation& op) { return socket_of_fd(op.source->fd); }
HANDLE handle_of(const Operation& op) {
  return reinterpret_cast<HANDLE>(socket_of(op));  // NOLINT(performance-no-int-to-ptr): a socket is a handle
}

// A datagram (or pipe message) larger than the buffer: a warning, not an error, to NT. The call moved
// what fits, and its packet still comes (only an NT error status sends none), also when the call
// reported it at once (WSAEMSGSIZE, ERROR_MORE_DATA). recv(2) returns what fits.
constexpr NTSTATUS status_buffer_overflow = static_cast<NTSTATUS>(0x80000005UL);

// Error{} when the call is under way or done (its packet will come either way), else what it said. The
// code is read after the call returned, never as an argument beside it: argument order is unspecified,
// and a code read first is the previous call's.
Error socket_call_started(int returned) {
  if (returned == 0) return Error{};
  const int code = ::WSAGetLastError();
  return code == WSA_IO_PENDING || code == WSAEMSGSIZE ? Error{} : Error::from_windows(static_cast<DWORD>(code));
}
Error socket_extension_started(BOOL returned) { return socket_call_started(returned != 0 ? 0 : SOCKET_ERROR); }
Error file_call_started(BOOL returned) {
  if (returned != 0) return Error{};
  const DWORD code = ::GetLastError();
  return code == ERROR_IO_PENDING || code == ERROR_MORE_DATA ? Error{} : Error::from_windows(code);
}

template <typename Function>
Error extension(SOCKET socket, GUID id, Function& function) {
  DWORD bytes = 0;
  if (::WSAIoctl(socket, SIO_GET_EXTENSION_FUNCTION_POINTER, &id, sizeof id, &function, sizeof function, &bytes,
                 nullptr, nullptr) == SOCKET_ERROR) {
    return Error::last_socket_error();
  }
  return Error{};
}

// ConnectEx refuses an unbound socket (WSAEINVAL), where connect(2) binds it: bind it as connect would,
// to the wildcard address of the peer's family and a port the system picks.
Error bind_if_unbound(SOCKET socket, int family) {
  sockaddr_storage local{};
  int length = sizeof local;
  if (::getsockname(socket, reinterpret_cast<sockaddr*>(&local), &length) == 0) return Error{};
  if (::WSAGetLastError() != WSAEINVAL) return Error::last_socket_error();
  sockaddr_storage any{};
  any.ss_family = static_cast<decltype(any.ss_family)>(family);
  const int any_length = family == AF_INET6 ? sizeof(sockaddr_in6) : sizeof(sockaddr_in);
  if (::bind(socket, reinterpret_cast<const sockaddr*>(&any), any_length) == SOCKET_ERROR) {
    return Error::last_socket_error();
  }
  return Error{};
}

Error start_transfer(IocpOperationRecord& record, Operation& op) {
  WSABUF buffer{op.length, static_cast<char*>(op.buffer)};
  DWORD flags = 0;
  switch (op.kind) {
    case OpKind::recv:
      return socket_call_started(::WSARecv(socket_of(op), &buffer, 1, nullptr, &flags, &record.overlapped, nullptr));
    case OpKind::send:
      return socket_call_started(::WSASend(socket_of(op), &buffer, 1, nullptr, 0, &record.overlapped, nullptr));
    case OpKind::read:
      return file_call_started(::ReadFile(handle_of(op), op.buffer, op.length, nullptr, &record.overlapped));
    default:
      assert(op.kind == OpKind::write);
      return file_call_started(::WriteFile(handle_of(op), op.buffer, op.length, nullptr, &record.overlapped));
  }
}

Error start_accept(const IocpOperationTable& table, IocpOperationRecord& record, Operation& op) {
  // The connection goes to a socket made beforehand, of the listener's family.
  sockaddr_storage local{};
  int length = sizeof local;
  if (::getsockname(socket_of(op), reinterpret_cast<sockaddr*>(&local), &length) == SOCKET_ERROR) {
    return Error::last_socket_error();
  }
  const int accepted = socket_nonblocking(local.ss_family, SOCK_STREAM);
  if (accepted < 0) return Error::from_errno(errno);
  record.accepted = socket_of_fd(accepted);
  DWORD bytes = 0;
  const BOOL at_once = table.accept_ex(socket_of(op), record.accepted, record.addresses, 0, accept_address_bytes,
                                       accept_address_bytes, &bytes, &record.overlapped);
  return socket_extension_started(at_once);
}

Error start_connect(const IocpOperationTable& table, IocpOperationRecord& record, Operation& op) {
  if (Error error = bind_if_unbound(socket_of(op), op.address->sa_family); error.failed()) return error;
  const BOOL at_once = table.connect_ex(socket_of(op), op.address, static_cast<int>(op.address_length), nullptr, 0,
                                        nullptr, &record.overlapped);
  return socket_extension_started(at_once);
}

// What the packet says: bytes moved, or -errno (NTSTATUS to Win32 to errno, as Error maps them).
int32_t packet_result(const IocpOperationRecord& record, const OVERLAPPED_ENTRY& entry) {
  if (record.posted) return record.posted_result;
  const auto status = static_cast<NTSTATUS>(static_cast<ULONG>(record.overlapped.Internal));
  if (status >= 0 || status == status_buffer_overflow) return static_cast<int32_t>(entry.dwNumberOfBytesTransferred);
  const ULONG code = ::RtlNtStatusToDosError(status);
  // A pipe whose writer closed, or a file's end: Windows fails the read, read(2) returns 0.
  if (record.op->kind == OpKind::read && (code == ERROR_BROKEN_PIPE || code == ERROR_HANDLE_EOF)) return 0;
  return -Error::from_windows(code).value();
}

// The accepted socket is the caller's from here (its fd is the result), or closed.
int32_t finish_accept(const IocpOperationTable& table, IocpOperationRecord& record, int32_t result) {
  Operation& op = *record.op;
  const SOCKET accepted = record.accepted;
  record.accepted = INVALID_SOCKET;
  if (result >= 0) {
    // Until told its listener, an AcceptEx socket is no connection to Winsock: getpeername, getsockname
    // and shutdown fail on it (WSAENOTCONN).
    SOCKET listener = socket_of(op);
    if (::setsockopt(accepted, SOL_SOCKET, SO_UPDATE_ACCEPT_CONTEXT, reinterpret_cast<const char*>(&listener),
                     sizeof listener) == 0) {
      sockaddr* local = nullptr;
      sockaddr* remote = nullptr;
      int local_length = 0;
      int remote_length = 0;
      table.accept_ex_sockaddrs(record.addresses, 0, accept_address_bytes, accept_address_bytes, &local, &local_length,
                                &remote, &remote_length);
      if (op.address != nullptr && remote != nullptr) {
        // As accept(2): truncated to the caller's room, and the length is the address's own.
        std::memcpy(op.address, remote, std::min<size_t>(op.address_length, static_cast<size_t>(remote_length)));
        op.address_length = remote_length;
      }
      return fd_of_socket(accepted);
    }
    result = -Error::last_socket_error().value();
  }
  (void)::closesocket(accepted);
  return result;
}

int32_t finish_connect(const Operation& op, int32_t result) {
  if (result < 0) return result;
  // Without it a ConnectEx socket has no peer to Winsock: getpeername and shutdown fail (WSAENOTCONN).
  if (::setsockopt(socket_of(op), SOL_SOCKET, SO_UPDATE_CONNECT_CONTEXT, nullptr, 0) == SOCKET_ERROR) {
    return -Error::last_socket_error().value();
  }
  return 0;
}

}  // namespace

Error IocpBackend::open_operations(OperationLedger* ledger, uint32_t operation_capacity) {
  void* memory = ::VirtualAlloc(nullptr, IocpOperationTable::bytes_for(operation_capacity), MEM_COMMIT | MEM_RESERVE,
                                PAGE_READWRITE);
  if (memory == nullptr) return Error::last_windows_error();
  operations_ = new (memory) IocpOperationTable;
  static_assert(sizeof(IocpOperationTable) % alignof(IocpOperationRecord) == 0);
  operations_->records = reinterpret_cast<IocpOperationRecord*>(operations_ + 1);
  for (uint32_t i = 0; i < operation_capacity; ++i)
    new (&operations_->records[i]) IocpOperationRecord{.next_free = i + 1};
  operations_->capacity = operation_capacity;
  operations_->free_tail = operation_capacity - 1;
  operations_->ledger = ledger;
  // The extensions are looked up through a socket of the provider that serves TCP: any TCP socket will do.
  const int probe = socket_nonblocking(AF_INET, SOCK_STREAM);
  if (probe < 0) return Error::from_errno(errno);
  Error error = extension(socket_of_fd(probe), WSAID_ACCEPTEX, operations_->accept_ex);
  if (error.ok()) error = extension(socket_of_fd(probe), WSAID_CONNECTEX, operations_->connect_ex);
  if (error.ok()) error = extension(socket_of_fd(probe), WSAID_GETACCEPTEXSOCKADDRS, operations_->accept_ex_sockaddrs);
  (void)close_socket(probe);
  return error;
}

void IocpBackend::close_operations() {
  if (operations_ == nullptr) return;
  if (operations_->in_use > 0) {
    // Shutdown gave up on them (it said so): the system may still write their OVERLAPPEDs, and a
    // driver holding their sockets' port may still look at them. Their pages are kept, for good.
    operations_ = nullptr;
    return;
  }
  operations_->~IocpOperationTable();  // the records are trivially destructible
  (void)::VirtualFree(operations_, 0, MEM_RELEASE);
  operations_ = nullptr;
}

Error IocpBackend::associate(int fd) {
  if (::CreateIoCompletionPort(reinterpret_cast<HANDLE>(socket_of_fd(fd)),  // NOLINT(performance-no-int-to-ptr)
                               port_, operation_key, 0) != nullptr) {
    return Error{};
  }
  // A handle associated already says ERROR_INVALID_PARAMETER: attached before, to this driver.
  const Error error = Error::last_windows_error();
  return error == Error::from_windows(ERROR_INVALID_PARAMETER) ? Error{} : error;
}

bool IocpBackend::runs_natively(const Operation& op) {
  switch (op.kind) {
    case OpKind::accept:
    case OpKind::connect:
    case OpKind::recv:
    case OpKind::send:
    case OpKind::read:
    case OpKind::write:
      return true;
    case OpKind::cancel:
      return op.target->state == OpState::in_kernel;  // a native operation's cancel is CancelIoEx
    default:
      return false;
  }
}

Error IocpBackend::submit(Operation& op) {
  IocpOperationRecord& record = operations_->take(op);
  op.state = OpState::in_kernel;
  Error started{};
  switch (op.kind) {
    case OpKind::cancel:
      started = start_cancel(op);
      break;
    case OpKind::accept:
      started = start_accept(*operations_, record, op);
      break;
    case OpKind::connect:
      started = start_connect(*operations_, record, op);
      break;
    default:
      // A zero-byte ReadFile on a socket waits for the peer's first byte, where read(2) of no bytes returns
      // 0 at once (recv(2) of no bytes waits, as a zero-byte WSARecv does): completed with 0 through the port.
      if (op.kind == OpKind::read && op.length == 0) return post_result(record, 0);
      started = start_transfer(record, op);
      break;
  }
  return started.ok() ? Error{} : post_result(record, -started.value());
}

void IocpBackend::release(IocpOperationRecord& record) {
  if (record.accepted != INVALID_SOCKET) (void)::closesocket(record.accepted);
  operations_->give_back(record);
}

// The cancel completes with its target when CancelIoEx found the target's call (0 if the call stopped,
// EALREADY if it completed anyway); at once, through a posted packet, when it found nothing to cancel
// (ENOENT: the target's packet is on its way) or a cancel under way already (EALREADY).
Error IocpBackend::start_cancel(Operation& cancel) {
  Operation& target = *cancel.target;
  if (&target == &cancel || target.state != OpState::in_kernel || target.kind == OpKind::cancel) {
    return Error::from_errno(ENOENT);
  }
  auto& target_record = *static_cast<IocpOperationRecord*>(target.engine);
  if (target_record.canceller != nullptr) return Error::from_errno(EALREADY);
  // Failed at once, its packet posted: no call to stop (CancelIoEx would judge a handle that may be gone).
  if (target_record.posted) return Error::from_errno(ENOENT);
  if (::CancelIoEx(handle_of(target), &target_record.overlapped) == 0) {
    const DWORD code = ::GetLastError();
    return code == ERROR_NOT_FOUND ? Error::from_errno(ENOENT) : Error::from_windows(code);
  }
  target_record.canceller = &cancel;  // completed with its target, through the target's packet
  return Error{};
}

Error IocpBackend::post_result(IocpOperationRecord& record, int32_t result) {
  record.posted = true;
  record.posted_result = result;
  if (::PostQueuedCompletionStatus(port_, 0, operation_key, &record.overlapped) != 0) return Error{};
  // Nothing will complete it: the driver refuses the submission instead.
  const Error error = Error::last_windows_error();
  release(record);
  return error;
}

void IocpBackend::complete_operations(std::span<Event> entries) {
  IocpOperationTable& table = *operations_;
  OVERLAPPED_ENTRY* const outer_batch = table.batch;
  const uint32_t outer_size = table.batch_size;
  const uint32_t outer_next = table.batch_next;
  table.batch = entries.data();
  table.batch_size = static_cast<uint32_t>(entries.size());
  table.batch_next = 0;
  continue_batch();
  // A drain's own entries (shutdown inside a completion) done: the batch it interrupted is current again.
  table.batch = outer_batch;
  table.batch_size = outer_size;
  table.batch_next = outer_next;
}

void IocpBackend::continue_batch() {
  IocpOperationTable& table = *operations_;
  while (table.batch_next < table.batch_size) {
    Event& entry = table.batch[table.batch_next++];
    if (!is_operation_packet(entry)) continue;
    const Event packet = entry;
    entry.lpOverlapped = nullptr;  // done, also for a nested drain that continues this batch
    complete_operation(packet);
  }
}

void IocpBackend::complete_operation(const Event& entry) {
  IocpOperationTable& table = *operations_;
  if (!table.holds(entry.lpOverlapped)) {
    // Its record, ledger and callback belong to a driver on another thread, which cannot be told: the
    // operation stays in flight there, and that driver's shutdown says so.
    log_message(LogLevel::error,
                "IOCP: a completion of another driver's operation (a socket attached to two "
                "drivers completes on the first one's port); left alone");
    return;
  }
  auto& record = *reinterpret_cast<IocpOperationRecord*>(entry.lpOverlapped);
  Operation& op = *record.op;
  int32_t result = packet_result(record, entry);
  if (op.kind == OpKind::accept) result = finish_accept(table, record, result);
  if (op.kind == OpKind::connect) result = finish_connect(op, result);
  Operation* canceller = record.canceller;
  if (canceller != nullptr) table.give_back(*static_cast<IocpOperationRecord*>(canceller->engine));
  table.give_back(record);
  table.ledger->finish(op, result);
  if (canceller != nullptr) table.ledger->finish(*canceller, result == -ECANCELED ? 0 : -EALREADY);
}

void IocpBackend::cancel_operations() {
  if (operations_ == nullptr || operations_->in_use == 0) return;
  IocpOperationTable& table = *operations_;
  for (uint32_t i = 0; i < table.capacity; ++i) {
    IocpOperationRecord& record = table.records[i];
    if (record.op == nullptr || record.posted || record.op->kind == OpKind::cancel) continue;
    (void)::CancelIoEx(handle_of(*record.op), &record.overlapped);  // ERROR_NOT_FOUND: its packet is queued
  }
  // What a completion that shut the driver down left of its batch, then the port, until every
  // operation's packet came. The deadline only guards against a call the system never completes.
  continue_batch();
  const uint64_t give_up_ns = monotonic_now_ns() + shutdown_deadline_ns;
  Event entries[16];
  while (table.in_use > 0 && monotonic_now_ns() < give_up_ns) {
    ULONG count = 0;
    if (::GetQueuedCompletionStatusEx(port_, entries, 16, &count, 100, FALSE) != 0) {
      (void)take_events(std::span<Event>(entries, count));  // readiness after shutdown goes nowhere
    }
  }
  if (table.in_use > 0) {
    log_message(LogLevel::error,
                "IOCP shutdown: %u operations still in flight after %u s; the system may still write into their "
                "records and buffers, which must stay allocated",
                table.in_use, static_cast<unsigned>(shutdown_deadline_ns / 1000000000u));
  }
}

}  // namespace emio
