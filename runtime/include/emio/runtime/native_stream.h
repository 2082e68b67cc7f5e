// SPDX-License-Identifier: MIT
// Streams over completion operations: what a stream's read and write await when the driver runs
// operations natively (io_uring with receive buffers, Driver::takes_leased_receives()). The choice is made
// per driver at run time, since an io_uring build may run epoll; the user code is the same either way.
//
// Sockets receive and send (recv_leased, send); pipes and ttys, which recv(2) refuses (ENOTSOCK), read
// and write (read_leased, write) the same way: the record's ByteTransfer says which.
//
// Each stream's operations live in a record of a fixed pool the Executor owns, not in the stream nor in
// the awaiting coroutine frame: the kernel may complete them after either is gone. A receive goes into a
// provided buffer the kernel picks when bytes arrive (recv_leased), so the kernel only ever writes driver
// memory; a send goes from a send buffer lent by the pool while the send is in flight, a copy of the
// caller's data, and the write returns once it is copied (written behind; the next write waits for that
// send, and reports its error). So an idle stream holds no buffer at all.
// So an await abandoned by a timeout exposes nothing of the caller's: its receive stays in flight and its
// bytes are kept for the next read. A closing stream cancels its receive and gives its last send a
// linger of 2 s; the record frees after its last completion. See docs/runtime.md, "Streams on io_uring".
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>

#include "emio/alloc/slot_arena.h"
#include "emio/driver/driver.h"
#include "emio/driver/handle.h"
#include "emio/driver/operation.h"
#include "emio/driver/waker.h"
#include "emio/port/error.h"
#include "emio/port/fd.h"
#include "emio/port/result.h"
#include "emio/runtime/buffer_pool.h"
#include "emio/runtime/native_lease.h"
#include "emio/runtime/native_listener.h"
#include "emio/runtime/received_bytes.h"

namespace emio {

class NativeStreamPool;

// Sizes of the pool; capacity 0 (the default) keeps every stream on readiness.
struct NativeStreamOptions {
  uint32_t capacity = 0;         // streams reading and writing through completion operations at once
  uint32_t buffer_bytes = 4096;  // each receive buffer and each send buffer; at most this per await
  // Listeners accepting through the ring (native_listener.h) at once, when capacity is not 0; others
  // accept on readiness. A daemon listens on a few sockets (emio-bridge: clients and metrics); each
  // record is 432 bytes on 64-bit (its queue of 16 accepted fds; 1392 with multishot's 256) and 2 operations of the
  // ledger.
  uint32_t listener_capacity = 4;
  // Buffers in the ring the receives pick from, rounded up to a power of two (io_uring's rule); 0: one
  // per stream, so that the ring never runs dry. Fewer bound the memory whatever the number of streams:
  // a receive that finds the ring empty (ENOBUFS) waits 1 ms and receives again.
  uint32_t receive_buffers = 0;
  // Send buffers, lent to a stream only while its send is in flight; 0: one per stream. With fewer, a
  // write that finds none free waits for one (FIFO).
  uint32_t send_buffers = 0;
};

// The system calls a byte stream's transfers are: recv/send for a socket, read/write for a pipe or a tty.
enum class ByteTransfer : uint8_t { socket, file };

// One stream's operations. Executor thread only.
class NativeStream {
 public:
  using Pool = NativeStreamPool;
  static constexpr const char* kind_name = "release (a native stream's record)";

  // The read await: true once `output` holds bytes read (leftovers of an earlier receive first), 0 at end
  // of stream, or the receive's error; false while a receive is in flight (`waker` is called when it ends).
  // EBUSY while a read view of this stream is not released.
  bool poll_read(std::span<std::byte> buffer, Waker waker, std::optional<Result<size_t>>& output);
  // The read view's await: as poll_read, but the bytes stay in the ring's buffer, lent to the caller
  // (received_bytes.h) until released.
  bool poll_read_view(Waker waker, std::optional<Result<ReceivedBytes>>& output);
  // The write await, written behind: true once up to the send buffer's size of `data` is copied and its
  // send submitted (`output`: that length), or with the error of the previous send, which failed after
  // its write returned; false while the previous send is in flight or no send buffer is free (`waker` is
  // called when it ends, or once a buffer is lent).
  bool poll_write(std::span<const std::byte> data, Waker waker, std::optional<Result<size_t>>& output);
  // What ByteStream::try_read and try_write answer before their system call, when the record decides:
  // a receive's bytes not read yet come first; while a receive or a send is in flight the system call
  // would reorder bytes (would_block); a send that failed after its write returned is reported. Empty:
  // the system call goes.
  std::optional<Result<size_t>> try_read_first(std::span<std::byte> buffer);
  std::optional<Result<size_t>> try_write_first();
  // The await is abandoned: forget its waker; the operation in flight goes on (see the file comment).
  void forget_reader() { reader_ = {}; }
  void forget_writer();
  // Which use of the record this is: a new one each time a stream takes it.
  Token token() const { return token_; }
  // Still the open record of the stream that took it as `claim` (token() then). An await whose stream
  // another task closed meanwhile must not touch it: the record may be another stream's by now.
  bool held_by(Token claim) const { return open_ && claim == token_; }
  // Drops the bytes of a receive that completed and are not read yet (SerialPort::discard_buffers: they
  // left the tty's queue for the record's buffer, where tcflush does not reach). An end of stream or an
  // error stays; a receive still in flight goes on.
  void discard_received();

 private:
  friend class NativeStreamPool;
  template <typename>
  friend class NativeLease;
  static void on_received(void* record);
  static void on_sent(void* record);
  static void on_cancelled(void* record);
  static void on_linger_ended(void* record);
  static void on_buffer_wait_ended(void* record);
  static void on_send_wait_ended(void* record);
  static void on_view_released(void* record, std::byte* buffer);
  template <typename Output, typename Take>
  bool poll_received(Waker waker, std::optional<Output>& output, Take take);
  Result<ReceivedBytes> lend_received();
  void return_send_buffer();
  void end_linger();
  Error wait_for_buffer();
  bool file_would_block(int32_t result) const;
  void prepare_receive();
  Error submit_send();
  Result<size_t> take_received(std::span<std::byte> buffer);
  // A closed stream's linger: its timer (cancel_send_) has not run out. Once it has, its cancel may have
  // found the send already done, that completion still to come: what it left is not sent (a rest or a
  // retry submitted then had no linger to end it, and a peer that never read held the record for ever).
  bool linger_running() const { return cancel_send_.in_flight() && cancel_send_.kind == OpKind::timeout; }
  // Whether the send may go on: its rest after a short send, or its retry after EAGAIN.
  bool may_send() const { return open_ || linger_running(); }
  bool busy() const {
    return receive_.in_flight() || send_.in_flight() || cancel_receive_.in_flight() || cancel_send_.in_flight() ||
           view_lent_;
  }

  // What a request touches first, together: at 256 connections every request finds its record cold, and
  // each cache line of it costs a miss (bench/results/lean-path.md). The two operations a request uses
  // each start a line of their own, which holds all their hot fields (operation.h).
  NativeStreamPool* pool_ = nullptr;
  Waker reader_{};
  Waker writer_{};
  std::byte* send_buffer_ = nullptr;  // lent by the pool while a send is in flight
  uint32_t received_offset_ = 0;      // bytes of receive_'s buffer already read
  uint32_t send_length_ = 0;          // bytes of send_buffer_ the write took
  uint32_t send_done_ = 0;            // of which the kernel has taken this many
  int32_t send_error_ = 0;            // -errno of a send that failed after its write returned
  Token token_{};                     // the record's slot in the pool, while a stream or the kernel holds it
  bool received_ = false;             // receive_ completed and its outcome is not read yet
  bool open_ = false;                 // a stream owns the record; false and not busy: free
  bool view_lent_ = false;            // receive_'s bytes are lent to a ReceivedBytes
  ByteTransfer transfer_ = ByteTransfer::socket;
  OpSource source_;
  alignas(64) Operation receive_;  // recv_leased; once completed, its buffer holds the bytes not read yet
  alignas(64) Operation send_;
  Fd fd_;                     // once the stream closed: its fd, open until the kernel holds nothing of the record's
  BufferWaiter send_waiter_;  // while a write waits for a send buffer
  Operation cancel_receive_;  // at close: the receive's cancel; while open: the wait for a ring buffer
  Operation cancel_send_;     // at close: the linger's timeout, then the send's cancel (send_ then may carry
                              // the cancel of the linger, once the send ended first)
};

// The fixed pool of records, made in Executor::init. Records never move.
class NativeStreamPool {
 public:
  NativeStreamPool() = default;
  NativeStreamPool(const NativeStreamPool&) = delete;
  NativeStreamPool& operator=(const NativeStreamPool&) = delete;
  ~NativeStreamPool();

  // The driver settings the pool needs: the ring of receive buffers (unless the caller chose its own
  // ring) and four operations per record (receive, send and their cancels at close), and two per listener
  // record (the accept and its cancel), which init reserves for the pool in the driver's ledger.
  static DriverConfig driver_config(DriverConfig config, const NativeStreamOptions& options);
  // Logs why the driver refused `sized` (driver_config's result) when the pool is the cause: more
  // operations than io_uring's completion queue holds (at most 65,536: about 16,000 streams).
  static void explain_refusal(Error refused, const DriverConfig& sized, const NativeStreamOptions& options);
  // One allocation; none at all when the driver does not take leased receives (readiness backends).
  Error init(Driver& driver, const NativeStreamOptions& options);
  // A record attached to `fd`, or null: no pool, the pool is full, or the driver refused the fd.
  NativeStream* acquire(int fd, ByteTransfer transfer);
  // The stream closes: its receive is cancelled, its last send lingers; `fd` (the stream's, deregistered)
  // closes when the record frees, after its last completion.
  void release(NativeStream& stream, Fd fd);
  uint32_t in_use() const { return records_.live_count(); }
  uint32_t capacity() const { return records_.capacity(); }
  uint32_t buffer_bytes() const { return buffer_bytes_; }
  const BufferPool& send_buffers() const { return send_buffers_; }
  NativeListenerPool& listeners() { return listeners_; }
  Driver& driver() { return *driver_; }

 private:
  friend class NativeStream;
  // Every operation of a record goes from the pool's reserved share of the driver's ledger.
  Error submit(Operation& op);
  void cancel(NativeStream& stream, Operation& cancel, Operation& target);
  void free_if_done(NativeStream& stream);

  Driver* driver_ = nullptr;
  SlotArena<NativeStream> records_;
  BufferPool send_buffers_;
  uint32_t buffer_bytes_ = 0;
  NativeListenerPool listeners_;
};

// A stream's claim on its record (native_lease.h).
using NativeStreamLease = NativeLease<NativeStream>;

}  // namespace emio
