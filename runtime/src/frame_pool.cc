// SPDX-License-Identifier: MIT
#include "emio/runtime/frame_pool.h"

#include <cassert>
#include <cerrno>
#include <new>

#include "emio/port/log.h"

namespace emio {
namespace {

// The pool emio::Task frames come from; see frame_pool.h for why it is process-wide.
std::atomic<FramePool*> installed_pool{nullptr};

// The size of the last frame refused on this thread for its size; 0 after a refusal for exhaustion.
thread_local size_t last_oversized_bytes = 0;

FramePool*& owner_of(void* frame) {
  return *reinterpret_cast<FramePool**>(static_cast<std::byte*>(frame) - FramePool::header_bytes);
}

}  // namespace

FramePool::~FramePool() {
  uninstall();
  assert(frames_in_use_ == 0 && "a coroutine frame outlived its pool");
  ::operator delete[](owned_storage_, std::align_val_t{header_bytes});
}

Error FramePool::init(uint32_t frame_size_bytes, uint32_t frame_count) {
  if (storage_ != nullptr) return Error::from_errno(EALREADY);
  if (frame_size_bytes == 0 || frame_count == 0) return Error::no_storage;
  const size_t bytes = block_bytes_for(frame_size_bytes) * frame_count;
  owned_storage_ = static_cast<std::byte*>(::operator new[](bytes, std::align_val_t{header_bytes}, std::nothrow));
  if (owned_storage_ == nullptr) return Error::no_storage;
  return init(std::span<std::byte>(owned_storage_, bytes), frame_size_bytes);
}

Error FramePool::init(std::span<std::byte> storage, uint32_t frame_size_bytes) {
  if (storage_ != nullptr) return Error::from_errno(EALREADY);
  const size_t block = block_bytes_for(frame_size_bytes);
  const bool aligned = reinterpret_cast<uintptr_t>(storage.data()) % header_bytes == 0;
  if (frame_size_bytes == 0 || storage.size() < block || !aligned) return Error::no_storage;
  // Every block keeps the header's (maximal) alignment: the frame size is rounded up to it.
  frame_size_bytes_ = static_cast<uint32_t>(block - header_bytes);
  frame_count_ = static_cast<uint32_t>(storage.size() / block);
  storage_ = storage.data();
  link_free_blocks();
  last_oversized_bytes = 0;  // mingw's emulated TLS allocates at a thread's first touch: here, at init
  return Error{};
}

void FramePool::link_free_blocks() {
  for (uint32_t i = frame_count_; i > 0; --i) {
    auto* block = new (storage_ + (i - 1) * block_bytes()) FreeBlock{free_list_};
    free_list_ = block;
  }
}

void* FramePool::allocate(size_t size) {
  FreeBlock* block = nullptr;
  last_oversized_bytes = size > frame_size_bytes_ ? size : 0;
  if (size > frame_size_bytes_) {
    size_t logged = largest_oversized_logged_.load(std::memory_order_relaxed);
    if (size > logged && largest_oversized_logged_.compare_exchange_strong(logged, size)) {
      log_message(LogLevel::error,
                  "a coroutine frame of %zu bytes does not fit the pool's %u-byte frames: raise frame_size_bytes", size,
                  frame_size_bytes_);
    }
  } else {
    std::lock_guard<Mutex> guard(lock_);
    block = free_list_;
    if (block != nullptr) {
      free_list_ = block->next;
      frames_in_use_ += 1;
    }
  }
  if (block == nullptr) {
    allocation_failures_.fetch_add(1, std::memory_order_relaxed);
    return nullptr;
  }
  void* frame = reinterpret_cast<std::byte*>(block) + header_bytes;
  owner_of(frame) = this;
  return frame;
}

void FramePool::release(void* frame) {
  if (frame == nullptr) return;
  FramePool* pool = owner_of(frame);
  auto* block = new (static_cast<std::byte*>(frame) - header_bytes) FreeBlock{nullptr};
  std::lock_guard<Mutex> guard(pool->lock_);
  block->next = pool->free_list_;
  pool->free_list_ = block;
  pool->frames_in_use_ -= 1;
}

uint32_t FramePool::frames_in_use() const {
  std::lock_guard<Mutex> guard(lock_);
  return frames_in_use_;
}

Error FramePool::install() {
  FramePool* expected = nullptr;
  if (!installed_pool.compare_exchange_strong(expected, this, std::memory_order_acq_rel)) {
    return Error::from_errno(EBUSY);
  }
  return Error{};
}

void FramePool::uninstall() {
  FramePool* expected = this;
  (void)installed_pool.compare_exchange_strong(expected, nullptr, std::memory_order_acq_rel);
}

void* FramePool::allocate_from_installed(size_t size) {
  FramePool* pool = installed_pool.load(std::memory_order_acquire);
  if (pool == nullptr) last_oversized_bytes = 0;
  return pool == nullptr ? nullptr : pool->allocate(size);
}

Error FramePool::last_allocation_error() { return last_oversized_bytes > 0 ? frame_too_large : frame_pool_exhausted; }

size_t FramePool::last_oversized_frame_bytes() { return last_oversized_bytes; }

}  // namespace emio
