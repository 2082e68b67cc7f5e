// SPDX-License-Identifier: MIT
// The lock the driver and its backends take around their tables: std::mutex where it allocates nothing
// (a futex word on Linux), an SRW lock on Windows, where winpthreads' std::mutex allocates its state at
// its first lock (the no-heap rule counts that: NoHeap.InitOnCallerStorageAllocatesNothing).
#pragma once

#include <mutex>  // std::lock_guard, and std::mutex off Windows

#if defined(_WIN32)
#include <windows.h>
#endif

namespace emio {

#if defined(_WIN32)
class Mutex {
 public:
  Mutex() = default;
  Mutex(const Mutex&) = delete;
  Mutex& operator=(const Mutex&) = delete;

  void lock() { ::AcquireSRWLockExclusive(&lock_); }
  bool try_lock() { return ::TryAcquireSRWLockExclusive(&lock_) != 0; }
  void unlock() { ::ReleaseSRWLockExclusive(&lock_); }

 private:
  SRWLOCK lock_ = SRWLOCK_INIT;
};
#else
using Mutex = std::mutex;
#endif

}  // namespace emio
