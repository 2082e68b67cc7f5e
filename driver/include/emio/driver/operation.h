// SPDX-License-Identifier: MIT
// Completion operations: accept, connect, recv, send, read, write, close, timeout and cancel, with the
// same user code on every backend. The caller owns every record (a member, a static, a stack object that
// outlives the operation): the driver never allocates one. It links in-flight records through their own
// fields (libxev and TigerBeetle do the same), so a record must stay put and untouched until its
// completion has run.
//
// On io_uring each operation is one native submission. On IOCP accept, connect, recv, send, read and
// write are one overlapped call each (AcceptEx, ConnectEx, WSARecv, WSASend, ReadFile, WriteFile) and
// their cancel is CancelIoEx; the other kinds run as on epoll. On epoll the driver carries it out with
// readiness and non-blocking system calls. Either way the completion runs on the driver thread, inside turn() (or
// shutdown()), exactly once per operation, and operations are submitted from the driver thread only.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>

#include "emio/config.h"
#include "emio/driver/registration.h"
#include "emio/driver/waker.h"
#include "emio/port/error.h"
#include "emio/port/socket.h"  // sockaddr, socklen_t (<sys/socket.h>, or Winsock's)

#if defined(EMIO_BACKEND_URING)
#include <linux/time_types.h>
#endif

namespace emio {

// The timespec an io_uring timeout hands the kernel. Off io_uring (epoll, kqueue: macOS has no
// <linux/time_types.h>) a struct of the same layout, so that Operation is the same size everywhere.
#if defined(EMIO_BACKEND_URING)
using KernelTimespec = __kernel_timespec;
#else
struct KernelTimespec {
  int64_t tv_sec;
  long long tv_nsec;
};
#endif
static_assert(sizeof(KernelTimespec) == 16, "io_uring's timespec is two 64-bit fields");

struct Operation;

// One fd that operations act on. Attach it (Driver::attach) before its first operation and detach it (or
// submit a close operation) when done. At most one reading operation (accept, recv, read) and one writing
// operation (connect, send, write) may be in flight per source, on every backend: that is what epoll's
// one reader and one writer per registration allow, and the same rule everywhere keeps user code portable.
struct OpSource {
  int fd = -1;
  Registration registration{};  // readiness backends: the fd's registration
  Operation* reader = nullptr;  // the reading operation in flight, if any
  Operation* writer = nullptr;  // the writing operation in flight, if any
  int32_t fixed_file = -1;      // io_uring kernel-bypass mode: the fd's slot in the registered files
};

enum class OpKind : uint8_t {
  accept,
  connect,
  recv,
  send,
  read,
  write,
  close,
  timeout,
  cancel,
  accept_multishot,  // completes once per accepted connection, until cancelled or failed
  recv_multishot,    // completes once per received chunk, in a buffer the driver picks, until the end
  recv_leased,       // io_uring: one receive into a provided buffer the caller holds until release_buffer
  read_leased,       // io_uring: recv_leased for a pipe or a tty (read(2), not recv(2))
};

enum class OpState : uint8_t {
  idle,       // never submitted, or completed
  queued,     // readiness backends: submitted, to be tried at the next turn
  waiting,    // readiness backends: tried, parked until its source is ready
  timing,     // readiness backends: a timeout that has not expired
  in_kernel,  // native: submitted to io_uring's ring, or an overlapped call on IOCP
};

struct Operation {
  // The fields every submission and completion touches come first: 62 bytes on 64-bit targets, one cache
  // line when the record starts on one (NativeStream's do). At 256 connections each request finds its
  // records cold; split over two lines they cost emio-echo two cache misses per operation touched.

  // --- What to do: set by the prepare_* functions below ---
  OpSource* source = nullptr;  // every kind but timeout and cancel
  void* buffer = nullptr;      // recv, send, read, write
  Waker on_complete{};         // called on the driver thread when the operation completes

  // --- The driver's bookkeeping (hot part) ---
  Operation* next = nullptr;  // in-flight list
  Operation* previous = nullptr;

  uint32_t length = 0;  // recv, send, read, write: the buffer's size

  // --- The outcome, valid in and after on_complete ---
  int32_t result = 0;  // >= 0: bytes moved, the accepted fd, or 0; < 0: -errno (ECANCELED when cancelled)

  OpKind kind = OpKind::timeout;
  OpState state = OpState::idle;
  // Multishot kinds: true in on_complete while further completions will follow; false on the last one.
  bool more = false;
  // io_uring: a cancel was submitted for it, so a multishot operation that ends must not start again.
  bool cancel_requested = false;
  // Started from the ledger's reserved share (Driver::submit_reserved), which it gives back when it ends.
  bool reserved = false;
  bool connect_started = false;  // readiness backends: connect() said EINPROGRESS

  // --- What to do, for the rarer kinds ---
  sockaddr* address = nullptr;   // accept: where the peer's address goes (may be null); connect: the peer
  Operation* target = nullptr;   // cancel: the operation to cancel
  uint64_t timeout_ns = 0;       // timeout
  socklen_t address_length = 0;  // accept: size of *address, then the length the kernel wrote

  // --- The driver's bookkeeping (the rest) ---
  Operation* due_next = nullptr;  // readiness backends: the batch a turn works through
  void* engine = nullptr;         // readiness backends: what carries the operation out
  union {
    KernelTimespec timespec;  // io_uring timeout: the kernel reads it while the submission is issued
    uint64_t deadline_ns;     // readiness timeout: monotonic deadline
  } timer{};

  Error error() const { return result < 0 ? Error::from_errno(-result) : Error{}; }
  uint32_t value() const { return result < 0 ? 0u : static_cast<uint32_t>(result); }
  bool in_flight() const { return state != OpState::idle; }
};

static_assert(sizeof(void*) != 8 || sizeof(Operation) <= 128, "Operation records grew past 128 bytes");
static_assert(sizeof(void*) != 8 || offsetof(Operation, connect_started) < 64,
              "the fields every operation touches must stay in the record's first cache line");

// The prepare_* functions fill a record for submission; on_complete is the callback or the task's Waker.
void prepare_accept(Operation& op, OpSource& listener, sockaddr* peer, socklen_t peer_capacity, Waker on_complete);
void prepare_connect(Operation& op, OpSource& socket, const sockaddr* peer, socklen_t peer_length, Waker on_complete);
void prepare_recv(Operation& op, OpSource& socket, std::span<std::byte> buffer, Waker on_complete);
void prepare_send(Operation& op, OpSource& socket, std::span<const std::byte> data, Waker on_complete);
void prepare_read(Operation& op, OpSource& file, std::span<std::byte> buffer, Waker on_complete);
void prepare_write(Operation& op, OpSource& file, std::span<const std::byte> data, Waker on_complete);
// Closes the source's fd and detaches it; refused (EBUSY) while another operation on it is in flight.
void prepare_close(Operation& op, OpSource& source, Waker on_complete);
// Completes with 0 after `timeout_ns` (monotonic), or with ECANCELED.
void prepare_timeout(Operation& op, uint64_t timeout_ns, Waker on_complete);
// Asks `target` to complete early with ECANCELED. The cancel itself completes with 0, or ENOENT when the
// target was not in flight (it had completed already), or EALREADY when it can no longer be stopped.
void prepare_cancel(Operation& op, Operation& target, Waker on_complete);

// Multishot operations: the record stays in flight and completes once per event (with `more` set) until it
// is cancelled or fails, or its stream ends; then a last completion with `more` clear. recv_multishot sets
// `buffer` to the received bytes, which are the caller's only until on_complete returns: the driver gives
// the buffer back to the kernel then. Needs DriverConfig::receive_buffers.
void prepare_accept_multishot(Operation& op, OpSource& listener, Waker on_complete);
void prepare_recv_multishot(Operation& op, OpSource& socket, Waker on_complete);

// One receive into a buffer the kernel picks from the provided buffer ring (DriverConfig::receive_buffers)
// when bytes arrive, so that the kernel only ever writes driver-owned memory: a caller that abandons the
// wait leaves nothing of its own exposed. With result > 0, `buffer` holds the bytes and stays the caller's
// until Driver::release_buffer(op); otherwise no buffer is held. ENOBUFS: every buffer was taken.
// io_uring only: a readiness backend refuses it and so does io_uring without receive
// buffers: ENOTSUP (Driver::takes_leased_receives() says whether it runs).
void prepare_recv_leased(Operation& op, OpSource& socket, Waker on_complete);
// The same for a file that is no socket (a pipe, a tty): IORING_OP_READ at offset -1 (the current
// position, which pipes and ttys ignore). Refused where recv_leased is.
void prepare_read_leased(Operation& op, OpSource& file, Waker on_complete);
// Whether `kind` takes a provided buffer that the caller holds until release_buffer.
inline bool is_leased(OpKind kind) { return kind == OpKind::recv_leased || kind == OpKind::read_leased; }

// In-flight records, shared by every engine: started on submit, finished exactly once. A share of the
// capacity may be reserved for one owner (NativeStreamPool): other operations never take it, so the
// owner's are never refused for a ledger the others filled.
class OperationLedger {
 public:
  void set_capacity(uint32_t capacity) {
    capacity_ = capacity;
    reserved_ = 0;
  }
  // EINVAL when `count` is more than the capacity left unreserved.
  Error reserve(uint32_t count);
  bool full() const { return count_ - reserved_count_ >= capacity_ - reserved_; }
  uint32_t count() const { return count_; }
  uint32_t capacity() const { return capacity_; }
  Operation* first() const { return head_; }

  // Claims the source's direction and links the record. EBUSY: full (its share of the ledger, the reserved
  // one when `reserved`), or the direction is taken.
  Error start(Operation& op, bool reserved = false);
  // Unlinks the record, stores `result`, frees the source's direction, then calls on_complete.
  void finish(Operation& op, int32_t result);
  // One completion of a multishot operation that stays in flight: stores `result`, calls on_complete.
  static void deliver(Operation& op, int32_t result);
  // Undoes start() for a record the backend could not take: no completion runs.
  void abandon(Operation& op);

 private:
  void unlink(Operation& op);

  Operation* head_ = nullptr;
  uint32_t count_ = 0;
  uint32_t capacity_ = 0;
  uint32_t reserved_ = 0;
  uint32_t reserved_count_ = 0;  // of count_, started from the reserved share
};

}  // namespace emio
