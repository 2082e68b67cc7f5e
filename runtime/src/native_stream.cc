// SPDX-License-Identifier: MIT
#include "emio/runtime/native_stream.h"

#include <algorithm>
#include <bit>
#include <cassert>
#include <cerrno>
#include <cstring>
#include <new>
#include <utility>

namespace emio {
namespace {

constexpr uint32_t end_of_list = UINT32_MAX;
// Receive, send, and a cancel for each when the stream closes with them in flight.
constexpr uint32_t operations_per_stream = 4;
constexpr uint32_t max_sq_entries = 32768;

}  // namespace

// --- NativeStream ---

bool NativeStream::poll_read(std::span<std::byte> buffer, Waker waker, std::optional<Result<size_t>>& output) {
  // ENOBUFS: every buffer was held when bytes came (a ring shared with the caller's own receives, see
  // NativeStreamPool::driver_config): receive again, once the buffers the others hold come back.
  if (received_ && receive_.result == -ENOBUFS) received_ = false;
  if (received_) {
    output.emplace(take_received(buffer));
    return true;
  }
  reader_ = waker;
  if (receive_.in_flight()) return false;  // an earlier, abandoned await's receive: its bytes come here
  prepare_recv_leased(receive_, source_, {on_received, this});
  if (const Error refused = pool_->driver().submit(receive_); refused.failed()) {
    reader_ = {};
    output.emplace(refused);  // shut_down once the executor is going away
    return true;
  }
  return false;
}

bool NativeStream::poll_write(std::span<const std::byte> data, Waker waker, bool& started,
                              std::optional<Result<size_t>>& output) {
  if (started && sent_) {
    sent_ = false;
    if (send_.result < 0) {
      output.emplace(send_.error());
    } else {
      output.emplace(size_t{send_.value()});
    }
    return true;
  }
  writer_ = waker;
  if (send_.in_flight()) return false;  // ours, or an abandoned await's, which goes first
  sent_ = false;                        // an abandoned send's result is nobody's
  const size_t length = std::min<size_t>(data.size(), pool_->buffer_bytes());
  if (length > 0) std::memcpy(send_buffer_, data.data(), length);
  prepare_send(send_, source_, std::span<const std::byte>(send_buffer_, length), {on_sent, this});
  if (const Error refused = pool_->driver().submit(send_); refused.failed()) {
    writer_ = {};
    output.emplace(refused);
    return true;
  }
  started = true;
  return false;
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

void NativeStream::on_received(void* record) {
  auto& stream = *static_cast<NativeStream*>(record);
  stream.received_ = true;
  if (!stream.open_) return stream.pool_->free_if_done(stream);
  std::exchange(stream.reader_, Waker{}).wake();
}

void NativeStream::on_sent(void* record) {
  auto& stream = *static_cast<NativeStream*>(record);
  stream.sent_ = true;
  if (!stream.open_) return stream.pool_->free_if_done(stream);
  std::exchange(stream.writer_, Waker{}).wake();
}

void NativeStream::on_cancelled(void* record) {
  auto& stream = *static_cast<NativeStream*>(record);
  stream.pool_->free_if_done(stream);
}

// --- NativeStreamPool ---

NativeStreamPool::~NativeStreamPool() {
  delete[] records_;
  delete[] send_buffers_;
}

DriverConfig NativeStreamPool::driver_config(DriverConfig config, const NativeStreamOptions& options) {
  if (options.capacity == 0) return config;
  // A buffer per record: each holds at most one, so the ring never runs dry. A caller's own ring (for
  // its recv_multishot operations) is shared instead, and may: poll_read then receives again.
  if (config.receive_buffers.count == 0) {
    config.receive_buffers = {std::bit_ceil(options.capacity), options.buffer_bytes};
  }
  config.operation_capacity += operations_per_stream * options.capacity;
  // The completion queue (twice the submission queue) must hold every operation in flight.
  while (config.uring.sq_entries * 2 < config.operation_capacity && config.uring.sq_entries < max_sq_entries) {
    config.uring.sq_entries *= 2;
  }
  return config;
}

Error NativeStreamPool::init(Driver& driver, const NativeStreamOptions& options) {
  driver_ = &driver;
  if (options.capacity == 0 || !driver.takes_leased_receives()) return Error{};
  if (options.buffer_bytes == 0) return Error::from_errno(EINVAL);
  records_ = new (std::nothrow) NativeStream[options.capacity];
  send_buffers_ = new (std::nothrow) std::byte[size_t{options.capacity} * options.buffer_bytes];
  if (records_ == nullptr || send_buffers_ == nullptr) return Error::no_storage;
  capacity_ = options.capacity;
  buffer_bytes_ = options.buffer_bytes;
  for (uint32_t i = 0; i < capacity_; ++i) {
    records_[i].pool_ = this;
    records_[i].send_buffer_ = send_buffers_ + size_t{i} * buffer_bytes_;
    records_[i].next_free_ = i + 1 < capacity_ ? i + 1 : end_of_list;
  }
  free_head_ = capacity_ > 0 ? 0 : end_of_list;
  return Error{};
}

NativeStream* NativeStreamPool::acquire(int fd) {
  if (capacity_ == 0 || free_head_ == end_of_list) return nullptr;
  NativeStream& stream = records_[free_head_];
  if (driver_->attach(stream.source_, fd).failed()) return nullptr;  // a full registered file table
  free_head_ = stream.next_free_;
  in_use_ += 1;
  stream.open_ = true;
  stream.received_ = false;
  stream.sent_ = false;
  stream.received_offset_ = 0;
  return &stream;
}

void NativeStreamPool::release(NativeStream& stream) {
  stream.open_ = false;
  stream.reader_ = {};
  stream.writer_ = {};
  cancel(stream, stream.cancel_receive_, stream.receive_);
  cancel(stream, stream.cancel_send_, stream.send_);
  free_if_done(stream);
}

void NativeStreamPool::cancel(NativeStream& stream, Operation& cancel, Operation& target) {
  if (!target.in_flight()) return;
  prepare_cancel(cancel, target, {NativeStream::on_cancelled, &stream});
  (void)driver_->submit(cancel);  // refused only after shutdown, which completes the target itself
}

void NativeStreamPool::free_if_done(NativeStream& stream) {
  if (stream.open_ || stream.busy()) return;
  driver_->release_buffer(stream.receive_);  // bytes that came after the stream closed
  stream.received_ = false;
  (void)driver_->detach(stream.source_);
  stream.next_free_ = free_head_;
  free_head_ = static_cast<uint32_t>(&stream - records_);
  in_use_ -= 1;
}

// --- NativeStreamLease ---

NativeStreamLease::NativeStreamLease(NativeStreamLease&& other) noexcept
    : stream_(std::exchange(other.stream_, nullptr)) {}

NativeStreamLease& NativeStreamLease::operator=(NativeStreamLease&& other) noexcept {
  if (this != &other) {
    reset();
    stream_ = std::exchange(other.stream_, nullptr);
  }
  return *this;
}

void NativeStreamLease::reset() {
  if (stream_ == nullptr) return;
  NativeStream& stream = *std::exchange(stream_, nullptr);
  stream.pool_->release(stream);
}

}  // namespace emio
