#include "emio/runtime/frame_pool.h"

#include <cassert>
#include <cerrno>
#include <new>

namespace emio {
namespace {

// The pool emio::Task frames come from; see frame_pool.h for why it is process-wide.
std::atomic<FramePool*> installed_pool{nullptr};

FramePool*& owner_of(void* frame) {
  return *reinterpret_cast<FramePool**>(static_cast<std::byte*>(frame) - FramePool::header_bytes);
}

}  // namespace

FramePool::~FramePool() {
  uninstall();
  assert(frames_in_use_ == 0 && "a coroutine frame outlived its pool");
  ::operator delete[](storage_, std::align_val_t{header_bytes});
}

Error FramePool::init(uint32_t frame_size_bytes, uint32_t frame_count) {
  if (storage_ != nullptr) return Error::from_errno(EALREADY);
  if (frame_size_bytes == 0 || frame_count == 0) return Error::no_storage;
  // Round the frame up so that every block keeps the header's (maximal) alignment.
  frame_size_bytes_ = static_cast<uint32_t>((frame_size_bytes + header_bytes - 1) / header_bytes * header_bytes);
  frame_count_ = frame_count;
  storage_ = static_cast<std::byte*>(
      ::operator new[](block_bytes() * frame_count, std::align_val_t{header_bytes}, std::nothrow));
  if (storage_ == nullptr) return Error::no_storage;
  for (uint32_t i = frame_count; i > 0; --i) {
    auto* block = new (storage_ + (i - 1) * block_bytes()) FreeBlock{free_list_};
    free_list_ = block;
  }
  return Error{};
}

void* FramePool::allocate(size_t size) {
  FreeBlock* block = nullptr;
  if (size <= frame_size_bytes_) {
    std::lock_guard<std::mutex> guard(lock_);
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
  std::lock_guard<std::mutex> guard(pool->lock_);
  block->next = pool->free_list_;
  pool->free_list_ = block;
  pool->frames_in_use_ -= 1;
}

uint32_t FramePool::frames_in_use() const {
  std::lock_guard<std::mutex> guard(lock_);
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
  return pool == nullptr ? nullptr : pool->allocate(size);
}

}  // namespace emio
