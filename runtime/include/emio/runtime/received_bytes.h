// SPDX-License-Identifier: MIT
// ReceivedBytes: what ByteStream::read_view answers, the bytes of one receive lent in place, without a
// buffer of the caller's. On io_uring they are the kernel's provided buffer the receive picked
// (native_stream.h); on readiness, a buffer of the executor's read_view_buffers pool (buffer_pool.h) the
// recv wrote into. Either way the buffer is the stream's only while the bytes wait to be used, so an idle
// stream holds none. Release it (or let it go) soon: on io_uring the next read of the stream answers
// EBUSY until then, and either way the pool's other streams may wait for it. Release it before its executor is
// destroyed.
#pragma once

#include <cstddef>
#include <span>
#include <utility>

namespace emio {

class [[nodiscard]] ReceivedBytes {
 public:
  // How the owner takes its buffer back: (owner, buffer).
  using Release = void (*)(void* owner, std::byte* buffer);

  ReceivedBytes() = default;  // no bytes: the peer closed its side (end of stream)
  ReceivedBytes(std::span<const std::byte> bytes, Release release, void* owner, std::byte* buffer)
      : bytes_(bytes), release_(release), owner_(owner), buffer_(buffer) {}
  ReceivedBytes(ReceivedBytes&& other) noexcept
      : bytes_(std::exchange(other.bytes_, {})),
        release_(std::exchange(other.release_, nullptr)),
        owner_(other.owner_),
        buffer_(other.buffer_) {}
  ReceivedBytes& operator=(ReceivedBytes&& other) noexcept {
    if (this != &other) {
      release();
      bytes_ = std::exchange(other.bytes_, {});
      release_ = std::exchange(other.release_, nullptr);
      owner_ = other.owner_;
      buffer_ = other.buffer_;
    }
    return *this;
  }
  ReceivedBytes(const ReceivedBytes&) = delete;
  ReceivedBytes& operator=(const ReceivedBytes&) = delete;
  ~ReceivedBytes() { release(); }

  std::span<const std::byte> bytes() const { return bytes_; }
  size_t size() const { return bytes_.size(); }
  bool empty() const { return bytes_.empty(); }
  // Gives the buffer back; the bytes are gone. Safe to call again.
  void release() {
    bytes_ = {};
    if (release_ != nullptr) std::exchange(release_, nullptr)(owner_, buffer_);
  }

 private:
  std::span<const std::byte> bytes_;
  Release release_ = nullptr;
  void* owner_ = nullptr;
  std::byte* buffer_ = nullptr;
};

}  // namespace emio
