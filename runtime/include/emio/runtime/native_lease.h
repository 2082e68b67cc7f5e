// SPDX-License-Identifier: MIT
// A resource's claim on a record of one of the Executor's fixed pools of completion-operation records
// (NativeStreamPool's streams, NativeListenerPool's listeners): taken at its first await on a native
// driver, given back when the resource closes. Moves with the resource.
#pragma once

#include <utility>

#include "emio/alloc/slot_arena.h"
#include "emio/driver/driver.h"
#include "emio/driver/handle.h"
#include "emio/port/fd.h"

namespace emio {

// `Record` names its pool (Record::Pool, with acquire(fd), release(record, fd) and driver()), keeps a
// pointer to it (pool_) and says what it is for the log (Record::kind_name).
template <typename Record>
class NativeLease {
 public:
  NativeLease() = default;
  NativeLease(NativeLease&& other) noexcept : record_(std::exchange(other.record_, nullptr)), driver_(other.driver_) {}
  NativeLease& operator=(NativeLease&& other) noexcept {
    if (this != &other) {
      reset(Fd{});
      record_ = std::exchange(other.record_, nullptr);
      driver_ = other.driver_;
    }
    return *this;
  }
  NativeLease(const NativeLease&) = delete;
  NativeLease& operator=(const NativeLease&) = delete;
  ~NativeLease() { reset(Fd{}); }

  // The record, taken from `pool` for `fd` (and what else the pool's acquire takes) if the resource has
  // none yet; null: readiness for this await.
  template <typename... Args>
  Record* get(typename Record::Pool& pool, int fd, Args... args) {
    if (record_ == nullptr) {
      record_ = pool.acquire(fd, args...);
      if (record_ != nullptr) driver_ = pool.driver().handle();
    }
    return record_;
  }
  bool held() const { return record_ != nullptr; }
  Record* record() const { return record_; }

  // A pool's acquire(fd): a free record of `records` with `fd` attached to its source (a registered file
  // where the driver has them), open, its slot's token kept; null when every record is held or the
  // registered file table is full (the caller goes on with readiness).
  // `driver` is only read once a record was taken: a pool that was never sized (capacity 0) has none.
  static Record* take_attached(SlotArena<Record>& records, Driver* driver, int fd) {
    const ArenaAllocation<Record> taken = records.allocate();
    if (taken.status != ArenaStatus::ok) return nullptr;
    Record& record = *taken.value;
    if (driver->attach(record.source_, fd).failed()) {
      (void)records.release(taken.token);
      return nullptr;
    }
    record.token_ = taken.token;
    record.open_ = true;
    return &record;
  }
  // Gives the record back (Pool::release), with the resource's fd to close once it frees. A resource that
  // outlived its Executor has no pool to give it to: caught as Handle calls are (handle.h; a
  // heap-use-after-free otherwise, review defect 2), and the fd closes now.
  void reset(Fd fd) {
    if (record_ == nullptr) return;
    Record& record = *std::exchange(record_, nullptr);
    if (!driver_.driver_alive(Record::kind_name)) return;
    record.pool_->release(record, std::move(fd));
  }

 private:
  Record* record_ = nullptr;
  Handle driver_;  // the pool's driver: tells whether the pool (the Executor) still lives
};

}  // namespace emio
