// SPDX-License-Identifier: MIT
// The awaitable of ByteStream::read_view: Result<ReceivedBytes> (received_bytes.h), one receive's bytes
// lent in place instead of copied into a buffer of the caller's. On a stream with a record of completion
// operations (io_uring), the ring's buffer the kernel picked; on readiness, a buffer of the executor's
// read_view_buffers pool, taken only once the stream is readable and given back if the recv finds nothing,
// so a stream waiting for bytes holds no buffer. With every pool buffer lent, the read waits for one
// (FIFO); with a pool of none (ExecutorConfig::read_view_buffers.count 0, the default) it answers ENOBUFS.
#pragma once

#include <optional>
#include <utility>

#include "emio/driver/registration.h"
#include "emio/port/result.h"
#include "emio/runtime/buffer_pool.h"
#include "emio/runtime/received_bytes.h"
#include "emio/runtime/task.h"

namespace emio {

class ByteStream;
class NativeStream;

class [[nodiscard]] ReadViewOp {
 public:
  using Output = Result<ReceivedBytes>;
  explicit ReadViewOp(ByteStream& stream) : stream_(&stream) {}
  ReadViewOp(ReadViewOp&& other) noexcept = default;  // only before the first poll

  bool poll(PollContext& context);  // inline in stream.h, which knows ByteStream
  Output take_output() { return std::move(*output_); }
  void cancel();

 private:
  bool poll_readiness(const Waker& waker);  // inline in stream.h, beside StreamTransferOp's
  bool poll_native(PollContext& context);
  bool finish(Result<ReceivedBytes> output) {
    leave_pool();
    output_.emplace(std::move(output));
    return true;
  }
  // Gives back all this op holds of the pool: its buffer, a buffer handed over to it while it waited, and
  // its place in the queue. Whatever ends or parks the op calls it: an op that finished (an error, a
  // timeout) while queued would otherwise be handed a buffer into its freed frame and have a dead waker
  // called (review of 2026-12-06).
  void leave_pool() {
    pool_->stop_waiting(waiter_);
    if (buffer_ != nullptr) pool_->give_back(std::exchange(buffer_, nullptr));
  }
  static void release_to_pool(void* pool, std::byte* buffer);

  ByteStream* stream_;
  NativeStream* native_ = nullptr;  // the stream's record, once the first poll found one
  Token native_claim_{};            // native_->token() then (NativeStream::held_by)
  BufferPool* pool_ = nullptr;      // readiness: the executor's read_view_buffers, once the first poll ran
  std::byte* buffer_ = nullptr;     // readiness: the pool's buffer the recv goes into, while readable
  BufferWaiter waiter_;             // readiness: while every pool buffer is lent
  Registration parked_{};           // readiness: the registration holding the waker (as StreamTransferOp's)
  std::optional<Result<ReceivedBytes>> output_;
};

}  // namespace emio
