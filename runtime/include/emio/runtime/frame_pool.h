// SPDX-License-Identifier: MIT
// Coroutine frames come from a fixed pool of equal blocks, sized at init: no heap once it is set up.
//
// The compiler allocates a coroutine's frame when the coroutine function is called, before it can be
// spawned, through emio::Task's promise operator new. That hook has no arguments to name a pool, so the
// pool an Executor creates is installed process-wide for the executor's life: one executor with coroutines
// per process at a time (Executor::init fails with EBUSY otherwise). Each block remembers its pool, so a
// frame goes back to the pool it came from even if another pool is installed by then. The pool's memory
// goes with the Executor: destroy every Task (spawned ones are the executor's) before it.
//
// Thread-safe: another thread may call a coroutine function (and so allocate) to spawn it remotely.
// With -fno-exceptions, a frame the pool cannot give makes the coroutine call return an invalid Task
// (get_return_object_on_allocation_failure), which spawn() and co_await report as frame_pool_exhausted
// (no block free) or frame_too_large (the frame is bigger than a block: the log says by how much, and
// last_oversized_frame_bytes() gives the frame_size_bytes it needs).
#pragma once

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <mutex>  // std::lock_guard
#include <span>

#include "emio/port/error.h"
#include "emio/port/mutex.h"
#include "emio/runtime/errors.h"

namespace emio {

class FramePool {
 public:
  // Bytes each block reserves in front of the frame to remember its pool.
  static constexpr size_t header_bytes = alignof(std::max_align_t);

  FramePool() = default;
  FramePool(const FramePool&) = delete;
  FramePool& operator=(const FramePool&) = delete;
  ~FramePool();

  // Bytes one block takes for frames of up to `frame_size_bytes`: what caller storage needs per frame.
  static constexpr size_t block_bytes_for(uint32_t frame_size_bytes) {
    return header_bytes + (frame_size_bytes + header_bytes - 1) / header_bytes * header_bytes;
  }

  // Makes the one allocation: `frame_count` blocks for frames of up to `frame_size_bytes` each.
  // Errors: EALREADY if initialised, Error::no_storage for a zero size or count or a failed allocation.
  Error init(uint32_t frame_size_bytes, uint32_t frame_count);
  // Uses caller storage (ExecutorStorage has it): as many blocks as fit, aligned to header_bytes.
  // Errors: EALREADY; Error::no_storage for a zero size, room for no block, or a misaligned span.
  Error init(std::span<std::byte> storage, uint32_t frame_size_bytes);

  // A block for a frame of `size` bytes, or nullptr when the pool is exhausted or `size` is too big.
  void* allocate(size_t size);
  // Returns a frame from allocate() (of any pool) to its own pool.
  static void release(void* frame);

  uint32_t frame_size_bytes() const { return frame_size_bytes_; }
  uint32_t frame_count() const { return frame_count_; }
  uint32_t frames_in_use() const;
  // Failed allocations so far: how often a spawn met an exhausted pool or an oversized frame.
  uint64_t allocation_failures() const { return allocation_failures_.load(std::memory_order_relaxed); }

  // The pool emio::Task frames come from (set by Executor::init, cleared by its destructor).
  // install() returns EBUSY while another pool is installed.
  Error install();
  void uninstall();
  static void* allocate_from_installed(size_t size);

  // Why the last coroutine call on this thread got no frame: frame_too_large or frame_pool_exhausted.
  static Error last_allocation_error();
  // The size of the frame last refused on this thread for being bigger than a block (0 if the last
  // refusal was an exhausted pool): raise ExecutorConfig::frame_size_bytes to at least this.
  static size_t last_oversized_frame_bytes();

 private:
  struct FreeBlock {
    FreeBlock* next;
  };

  size_t block_bytes() const { return header_bytes + frame_size_bytes_; }
  void link_free_blocks();

  std::byte* storage_ = nullptr;
  std::byte* owned_storage_ = nullptr;  // what init(size, count) allocated; freed by the destructor
  uint32_t frame_size_bytes_ = 0;
  uint32_t frame_count_ = 0;
  mutable Mutex lock_;  // emio::Mutex (port/mutex.h); guards free_list_ and frames_in_use_
  FreeBlock* free_list_ = nullptr;
  uint32_t frames_in_use_ = 0;
  std::atomic<uint64_t> allocation_failures_{0};
  std::atomic<size_t> largest_oversized_logged_{0};  // logs each new largest oversized frame once
};

}  // namespace emio
