// SPDX-License-Identifier: MIT
#include "emio/runtime/native_stream.h"

#include <algorithm>
#include <atomic>
#include <bit>
#include <cassert>
#include <cerrno>
#include <cstring>
#include <utility>

#include "emio/port/log.h"

namespace emio {
namespace {

// Receive, send, and a cancel for each when the stream closes with them in flight.
constexpr uint32_t operations_per_stream = 4;
constexpr uint32_t max_sq_entries = 32768;
// How long a closed stream's last send may wait for the peer to take its bytes before it is cancelled.
constexpr uint64_t linger_ns = 2'000'000'000;
// How long a receive that found the caller's shared ring empty (ENOBUFS) waits before it tries again:
// resubmitted at once, it came straight back and the executor spun (review defect 5).
constexpr uint64_t buffer_wait_ns = 1'000'000;

// How long a pipe's or tty's transfer that the ring answered EAGAIN waits before it is tried again
// (NativeStream::file_would_block).
constexpr uint64_t file_retry_wait_ns = 1'000'000;

// The share of the driver's ledger the records take (reserved at init).
uint32_t pool_operations(const NativeStreamOptions& options) {
  return operations_per_stream * options.capacity +
         NativeListenerPool::operations_per_listener * options.listener_capacity;
}

}  // namespace

// --- NativeStream ---

bool NativeStream::poll_read(std::span<std::byte> buffer, Waker waker, std::optional<Result<size_t>>& output) {
  return poll_received(waker, output, [&] { return take_received(buffer); });
}

bool NativeStream::poll_read_view(Waker waker, std::optional<Result<ReceivedBytes>>& output) {
  return poll_received(waker, output, [&] { return lend_received(); });
}

template <typename Output, typename Take>
bool NativeStream::poll_received(Waker waker, std::optional<Output>& output, Take take) {
  // The view's bytes are receive_'s buffer: another receive would need it (a caller's defect, told).
  if (view_lent_) {
    output.emplace(Error::from_errno(EBUSY));
    return true;
  }
  // ENOBUFS kept only when the wait for a buffer could not be submitted (shutdown): receive again, which
  // reports it.
  if (received_ && receive_.result == -ENOBUFS) received_ = false;
  if (received_) {
    output.emplace(take());
    return true;
  }
  reader_ = waker;
  // An earlier, abandoned await's receive, or the wait for a ring buffer before it: its bytes come here.
  if (receive_.in_flight() || cancel_receive_.in_flight()) return false;
  prepare_receive();
  if (const Error refused = pool_->submit(receive_); refused.failed()) {
    reader_ = {};
    output.emplace(refused);  // shut_down once the executor is going away
    return true;
  }
  return false;
}

bool NativeStream::poll_write(std::span<const std::byte> data, Waker waker, std::optional<Result<size_t>>& output) {
  writer_ = waker;
  if (send_.in_flight()) return false;  // the previous write's bytes go first
  writer_ = {};
  if (send_error_ != 0) {  // the previous write's send failed after that write had returned
    output.emplace(Error::from_errno(-std::exchange(send_error_, 0)));
    return true;
  }
  // Written behind: the bytes are copied, so the caller's buffer is free at once and the task goes on
  // (to its next read, whose receive then leaves in the same io_uring_enter as this send).
  const size_t length = std::min<size_t>(data.size(), pool_->buffer_bytes());
  if (length > 0 && send_buffer_ == nullptr) {
    send_buffer_ = pool_->send_buffers_.take_or_wait(send_waiter_, waker);
    if (send_buffer_ == nullptr) return false;  // every send buffer is lent: the oldest waiter gets the next
  }
  if (length > 0) std::memcpy(send_buffer_, data.data(), length);
  send_length_ = static_cast<uint32_t>(length);
  send_done_ = 0;
  if (const Error refused = submit_send(); refused.failed()) {
    return_send_buffer();
    output.emplace(refused);  // shut_down once the executor is going away
    return true;
  }
  output.emplace(length);
  return true;
}

std::optional<Result<size_t>> NativeStream::try_read_first(std::span<std::byte> buffer) {
  if (view_lent_) return Result<size_t>(Error::from_errno(EBUSY));
  if (received_ && receive_.result != -ENOBUFS) return take_received(buffer);
  if (receive_.in_flight() || cancel_receive_.in_flight()) return Result<size_t>(Error::from_errno(EAGAIN));
  return std::nullopt;
}

std::optional<Result<size_t>> NativeStream::try_write_first() {
  if (send_.in_flight()) return Result<size_t>(Error::from_errno(EAGAIN));
  if (send_error_ != 0) return Result<size_t>(Error::from_errno(-std::exchange(send_error_, 0)));
  return std::nullopt;
}

void NativeStream::forget_writer() {
  writer_ = {};
  // The write that waited for a send buffer is gone: its place, or the buffer handed over, goes on.
  pool_->send_buffers_.stop_waiting(send_waiter_);
  if (!send_.in_flight()) return_send_buffer();
}

void NativeStream::return_send_buffer() {
  if (send_buffer_ != nullptr) pool_->send_buffers_.give_back(std::exchange(send_buffer_, nullptr));
}

void NativeStream::discard_received() {
  if (!received_ || receive_.result <= 0 || view_lent_) return;
  pool_->driver().release_buffer(receive_);
  received_offset_ = 0;
  received_ = false;
}

void NativeStream::prepare_receive() {
  if (transfer_ == ByteTransfer::socket) return prepare_recv_leased(receive_, source_, {on_received, this});
  prepare_read_leased(receive_, source_, {on_received, this});
}

Error NativeStream::submit_send() {
  const std::span<const std::byte> rest(send_buffer_ + send_done_, send_length_ - send_done_);
  if (transfer_ == ByteTransfer::socket) {
    prepare_send(send_, source_, rest, {on_sent, this});
  } else {
    prepare_write(send_, source_, rest, {on_sent, this});
  }
  return pool_->submit(send_);
}

Result<size_t> NativeStream::take_received(std::span<std::byte> buffer) {
  const int32_t result = receive_.result;
  if (result <= 0) {
    received_ = false;
    if (result == 0) return size_t{0};
    return Error::from_errno(-result);
  }
  const auto remaining = static_cast<uint32_t>(result) - received_offset_;
  const size_t length = std::min<size_t>(buffer.size(), remaining);
  std::memcpy(buffer.data(), static_cast<const std::byte*>(receive_.buffer) + received_offset_, length);
  received_offset_ += static_cast<uint32_t>(length);
  if (received_offset_ == static_cast<uint32_t>(result)) {  // all read: the buffer goes back to the ring
    pool_->driver().release_buffer(receive_);
    received_offset_ = 0;
    received_ = false;
  }
  return length;
}

Result<ReceivedBytes> NativeStream::lend_received() {
  const int32_t result = receive_.result;
  if (result <= 0) {
    received_ = false;
    if (result == 0) return ReceivedBytes{};
    return Error::from_errno(-result);
  }
  view_lent_ = true;
  const std::span<const std::byte> bytes(static_cast<const std::byte*>(receive_.buffer) + received_offset_,
                                         static_cast<uint32_t>(result) - received_offset_);
  return ReceivedBytes(bytes, on_view_released, this, nullptr);
}

void NativeStream::on_view_released(void* record, std::byte* /*buffer*/) {
  auto& stream = *static_cast<NativeStream*>(record);
  assert(stream.view_lent_ && stream.received_ && "a view is released once");
  stream.view_lent_ = false;
  stream.pool_->driver().release_buffer(stream.receive_);
  stream.received_offset_ = 0;
  stream.received_ = false;
  stream.pool_->free_if_done(stream);  // a stream closed while its view was out
}

// io_uring answers EAGAIN, instead of waiting, for an O_NONBLOCK file whose driver lacks nowait support
// (REQ_F_NOWAIT without FMODE_NOWAIT): ttys on older board kernels (liburing#354, #1185). 6.18 waits for
// every pollable file tried (pipe, FIFO, pty, eventfd, timerfd, inotify); where it does not, the
// transfer is tried again after file_retry_wait_ns instead of failing the await, and that is logged once.
bool NativeStream::file_would_block(int32_t result) const {
  if (result != -EAGAIN || transfer_ != ByteTransfer::file) return false;
  static std::atomic<bool> logged{false};
  if (!logged.exchange(true, std::memory_order_relaxed)) {
    log_message(LogLevel::warning,
                "this kernel answers EAGAIN for a pipe or tty on io_uring: its transfers are retried every %llu us "
                "(native_streams.capacity 0 keeps them on readiness)",
                static_cast<unsigned long long>(file_retry_wait_ns / 1000));
  }
  return true;
}

void NativeStream::on_received(void* record) {
  auto& stream = *static_cast<NativeStream*>(record);
  const int32_t result = stream.receive_.result;
  if ((result == -ENOBUFS || stream.file_would_block(result)) && stream.open_ && stream.wait_for_buffer().ok()) {
    return;
  }
  stream.received_ = true;
  if (!stream.open_) return stream.pool_->free_if_done(stream);
  std::exchange(stream.reader_, Waker{}).wake();
}

Error NativeStream::wait_for_buffer() {
  // Every buffer of a ring shared with the caller's own receives (NativeStreamPool::driver_config) was
  // held: the others give theirs back in time; until then the reader stays parked. While open the record
  // does not need cancel_receive_, which times the wait.
  prepare_timeout(cancel_receive_, buffer_wait_ns, {on_buffer_wait_ended, this});
  return pool_->submit(cancel_receive_);
}

void NativeStream::on_buffer_wait_ended(void* record) {
  auto& stream = *static_cast<NativeStream*>(record);
  if (!stream.open_) return stream.pool_->free_if_done(stream);
  stream.prepare_receive();
  if (stream.pool_->submit(stream.receive_).ok()) return;
  stream.received_ = true;  // shutdown: the reader's next poll receives again and is told
  std::exchange(stream.reader_, Waker{}).wake();
}

void NativeStream::on_sent(void* record) {
  auto& stream = *static_cast<NativeStream*>(record);
  const bool goes_on = stream.may_send();
  if (goes_on && stream.file_would_block(stream.send_.result)) {  // send_ itself times the wait: in flight
    prepare_timeout(stream.send_, file_retry_wait_ns, {on_send_wait_ended, &stream});
    if (stream.pool_->submit(stream.send_).ok()) return;
  }
  if (stream.send_.result < 0) {
    stream.send_error_ = stream.send_.result;
  } else if (stream.send_done_ += stream.send_.value(); stream.send_done_ < stream.send_length_) {
    // A short send (the socket's queue filled): the rest goes next, even after close, within the linger.
    if (goes_on && stream.submit_send().ok()) return;
    stream.send_error_ = -ECANCELED;
  }
  stream.return_send_buffer();
  if (!stream.open_) return stream.end_linger();
  std::exchange(stream.writer_, Waker{}).wake();
}

void NativeStream::on_send_wait_ended(void* record) {
  auto& stream = *static_cast<NativeStream*>(record);
  // Cancelled: a closed stream's linger ran out while the write waited, or the driver shut down.
  if (stream.send_.result != -ECANCELED && stream.may_send() && stream.submit_send().ok()) return;
  stream.send_error_ = -ECANCELED;
  stream.return_send_buffer();
  if (!stream.open_) return stream.end_linger();
  std::exchange(stream.writer_, Waker{}).wake();
}

void NativeStream::end_linger() {
  // The last send of a closed stream ended: its linger has nothing left to time, and the record and fd
  // would otherwise be held for the whole 2 s. The send's own record, idle now, carries the cancel.
  if (linger_running()) pool_->cancel(*this, send_, cancel_send_);
  pool_->free_if_done(*this);
}

void NativeStream::on_linger_ended(void* record) {
  auto& stream = *static_cast<NativeStream*>(record);
  // The bytes written before close had their time; a peer that does not read does not keep the record.
  // Unless the send ended first: send_ then carries the cancel of this linger (end_linger).
  if (stream.send_.in_flight() && stream.send_.kind != OpKind::cancel) {
    stream.pool_->cancel(stream, stream.cancel_send_, stream.send_);
  }
  stream.pool_->free_if_done(stream);
}

void NativeStream::on_cancelled(void* record) {
  auto& stream = *static_cast<NativeStream*>(record);
  stream.pool_->free_if_done(stream);
}

// --- NativeStreamPool ---

NativeStreamPool::~NativeStreamPool() {
  records_.release_storage();  // before the send buffers the records may hold
}

DriverConfig NativeStreamPool::driver_config(DriverConfig config, const NativeStreamOptions& options) {
  if (options.capacity == 0) return config;
  // By default a buffer per record: each holds at most one, so the ring never runs dry. A smaller ring
  // (options.receive_buffers), or a caller's own ring (for its recv_multishot operations), which is shared
  // instead, may: poll_read then receives again.
  if (config.receive_buffers.count == 0) {
    const uint32_t count = options.receive_buffers != 0 ? options.receive_buffers : options.capacity;
    config.receive_buffers = {std::bit_ceil(count), options.buffer_bytes};
  }
  config.operation_capacity += pool_operations(options);
  // The completion queue (twice the submission queue) must hold every operation in flight. A size of 0
  // is left for the driver to refuse (EINVAL), as without native streams: doubled, it never grew (the
  // loop never ended, review defect 7).
  while (config.uring.sq_entries != 0 && config.uring.sq_entries * 2 < config.operation_capacity &&
         config.uring.sq_entries < max_sq_entries) {
    config.uring.sq_entries *= 2;
  }
  return config;
}

void NativeStreamPool::explain_refusal(Error refused, const DriverConfig& sized, const NativeStreamOptions& options) {
  const uint32_t completion_queue = 2 * sized.uring.sq_entries;
  // A queue size of 0 is refused for itself (see driver_config).
  if (refused != Error::from_errno(EINVAL) || options.capacity == 0 || completion_queue == 0 ||
      sized.operation_capacity <= completion_queue) {
    return;
  }
  // io_uring's EINVAL alone did not say that the pool's share of the ledger is what did not fit (defect 7).
  const uint32_t others = sized.operation_capacity - pool_operations(options);
  const uint32_t most = completion_queue > others ? (completion_queue - others) / operations_per_stream : 0;
  log_message(LogLevel::error,
              "native_streams.capacity %u needs %u operations in flight, more than io_uring's completion queue "
              "holds (%u): at most %u native streams with these settings",
              options.capacity, sized.operation_capacity, completion_queue, most);
}

Error NativeStreamPool::init(Driver& driver, const NativeStreamOptions& options) {
  driver_ = &driver;
  if (options.capacity == 0 || !driver.takes_leased_receives()) return Error{};
  if (options.buffer_bytes == 0) return Error::from_errno(EINVAL);
  // The records' own share of the ledger (driver_config added it): a closing stream's cancels, and reads
  // and writes, are never refused because other operations filled the ledger (review defects 3 and 4).
  if (Error refused = driver.reserve_operations(pool_operations(options)); refused.failed()) return refused;
  if (Error refused = listeners_.init(driver, options.listener_capacity); refused.failed()) return refused;
  // The send buffers first: records (a capacity above 0) exist only with at least one to send from.
  const uint32_t send_buffers = options.send_buffers != 0 ? options.send_buffers : options.capacity;
  if (Error refused = send_buffers_.init(send_buffers, options.buffer_bytes); refused.failed()) return refused;
  if (records_.init(options.capacity) != ArenaStatus::ok) return Error::no_storage;
  buffer_bytes_ = options.buffer_bytes;
  for (uint32_t i = 0; i < options.capacity; ++i) records_.at(i).pool_ = this;
  return Error{};
}

NativeStream* NativeStreamPool::acquire(int fd, ByteTransfer transfer) {
  NativeStream* taken = NativeStreamLease::take_attached(records_, driver_, fd);
  if (taken == nullptr) return nullptr;
  NativeStream& stream = *taken;
  stream.transfer_ = transfer;
  stream.received_ = false;
  stream.send_error_ = 0;
  stream.received_offset_ = 0;
  return &stream;
}

void NativeStreamPool::release(NativeStream& stream, Fd fd) {
  stream.fd_ = std::move(fd);
  stream.open_ = false;
  stream.reader_ = {};
  stream.forget_writer();  // a write waiting for a send buffer: its place goes to the next
  cancel(stream, stream.cancel_receive_, stream.receive_);
  // Bytes written before close still go, as close(2) lets the kernel send them, but for linger_ns at most.
  if (stream.send_.in_flight()) {
    prepare_timeout(stream.cancel_send_, linger_ns, {NativeStream::on_linger_ended, &stream});
    if (submit(stream.cancel_send_).failed()) cancel(stream, stream.cancel_send_, stream.send_);
  }
  free_if_done(stream);
}

void NativeStreamPool::cancel(NativeStream& stream, Operation& cancel, Operation& target) {
  if (!target.in_flight()) return;
  prepare_cancel(cancel, target, {NativeStream::on_cancelled, &stream});
  (void)submit(cancel);  // refused only after shutdown (the share is reserved), which completes the target itself
}

Error NativeStreamPool::submit(Operation& op) { return driver_->submit_reserved(op); }

void NativeStreamPool::free_if_done(NativeStream& stream) {
  if (stream.open_ || stream.busy()) return;
  assert(stream.send_buffer_ == nullptr && !stream.send_waiter_.waiting() && "a send buffer goes back with its send");
  driver_->release_buffer(stream.receive_);  // bytes that came after the stream closed
  stream.received_ = false;
  (void)driver_->detach(stream.source_);
  stream.fd_.reset();  // only now: no submission of the record's names the fd any more
  [[maybe_unused]] const ArenaStatus released = records_.release(stream.token_);
  assert(released == ArenaStatus::ok && "a record frees once");
}

}  // namespace emio
