// SPDX-License-Identifier: MIT
// A byte FIFO over caller storage: the bounded buffer between the serial port and one client, and
// between the clients and the serial port. Never allocates, never grows; header-only and tiny.
#pragma once

#include <algorithm>
#include <cstddef>
#include <cstring>
#include <span>

namespace emio_examples {

class ByteRing {
 public:
  void attach(std::span<std::byte> storage) {
    storage_ = storage;
    clear();
  }
  void clear() { head_ = size_ = 0; }

  size_t size() const { return size_; }
  size_t free_bytes() const { return storage_.size() - size_; }
  bool empty() const { return size_ == 0; }

  // Copies as much of `data` as fits; returns how much that was.
  size_t push(std::span<const std::byte> data) {
    size_t copied = 0;
    while (copied < data.size() && free_bytes() > 0) {
      std::span<std::byte> space = writable();
      const size_t chunk = std::min(space.size(), data.size() - copied);
      std::memcpy(space.data(), data.data() + copied, chunk);
      commit(chunk);
      copied += chunk;
    }
    return copied;
  }
  // The oldest bytes, as one contiguous run (the rest follows after consume()).
  std::span<const std::byte> readable() const {
    return std::span<const std::byte>(storage_.data() + head_, std::min(size_, storage_.size() - head_));
  }
  void consume(size_t count) {
    head_ = (head_ + count) % storage_.size();
    size_ -= count;
  }
  // Contiguous free space after the newest byte; fill it, then commit() what was written.
  std::span<std::byte> writable() {
    const size_t tail = (head_ + size_) % storage_.size();
    const size_t run = tail >= head_ && size_ != storage_.size() ? storage_.size() - tail : head_ - tail;
    return std::span<std::byte>(storage_.data() + tail, size_ == storage_.size() ? 0 : run);
  }
  void commit(size_t count) { size_ += count; }

 private:
  std::span<std::byte> storage_{};
  size_t head_ = 0;
  size_t size_ = 0;
};

}  // namespace emio_examples
