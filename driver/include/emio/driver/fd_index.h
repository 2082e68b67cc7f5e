// SPDX-License-Identifier: MIT
// Which live registration watches each fd number: a fixed open-addressing table (linear probing, at most
// half full), filled at add_source and emptied at deregister, under the registrations lock.
//
// Why: a registration whose fd was closed without deregister, with its number reused for a new file that
// was then registered, must not reach the new file when it is removed (EPOLL_CTL_DEL names an fd number,
// so it would silently remove the new owner's interest). The index finds the old registration when the
// number comes back, in O(1), and the driver makes it forget its fd. It also lets io_uring, which would
// arm a second poll on one file without complaint, refuse a true duplicate as epoll does (EEXIST).
#pragma once

#include <cassert>
#include <cstdint>
#include <span>

namespace emio {

class FdIndex {
 public:
  static constexpr uint32_t none = UINT32_MAX;

  // Entries for `registration_capacity` registrations: a power of two, twice the capacity at least, so
  // the table is never more than half full and a probe ends after a few entries.
  static constexpr uint32_t entries_for(uint32_t registration_capacity) {
    uint32_t entries = 2;
    while (entries < 2 * uint64_t{registration_capacity}) entries *= 2;
    return entries;
  }

  // `table` holds entries_for(capacity) entries; the index never frees it.
  void init(std::span<uint32_t> table) {
    assert(!table.empty() && (table.size() & (table.size() - 1)) == 0);
    table_ = table;
    for (uint32_t& entry : table_) entry = empty;
  }
  void release() { table_ = {}; }

  // The slot watching `fd`, or none. `fd_of(slot)` tells the fd a slot watches.
  template <typename FdOf>
  uint32_t find(int fd, FdOf fd_of) const {
    for (uint32_t at = home_of(fd);; at = next(at)) {
      const uint32_t entry = table_[at];
      if (entry == empty) return none;
      if (fd_of(entry) == fd) return entry;
    }
  }

  // `fd` must not be in the index (find said none).
  void insert(int fd, uint32_t slot) {
    assert(slot != empty);
    uint32_t at = home_of(fd);
    while (table_[at] != empty) at = next(at);
    table_[at] = slot;
  }

  // Removes `fd`'s entry, which must be `slot`. Backward-shift deletion: later entries of the same probe
  // run move up, so no tombstones pile up over months of connections.
  template <typename FdOf>
  void erase(int fd, uint32_t slot, FdOf fd_of) {
    uint32_t hole = home_of(fd);
    while (table_[hole] != slot) {
      assert(table_[hole] != empty && "erasing an fd the index does not hold");
      hole = next(hole);
    }
    for (uint32_t at = next(hole); table_[at] != empty; at = next(at)) {
      const uint32_t home = home_of(fd_of(table_[at]));
      // The entry at `at` may fill the hole unless its home lies cyclically in (hole, at].
      const bool home_after_hole = hole <= at ? (home > hole && home <= at) : (home > hole || home <= at);
      if (home_after_hole) continue;
      table_[hole] = table_[at];
      hole = at;
    }
    table_[hole] = empty;
  }

 private:
  static constexpr uint32_t empty = UINT32_MAX;
  uint32_t mask() const { return static_cast<uint32_t>(table_.size() - 1); }
  uint32_t home_of(int fd) const {
    // Fibonacci hashing spreads the small, dense fd numbers a process uses.
    return static_cast<uint32_t>((static_cast<uint64_t>(static_cast<uint32_t>(fd)) * 0x9E3779B97F4A7C15u) >> 32) &
           mask();
  }
  uint32_t next(uint32_t at) const { return (at + 1) & mask(); }

  std::span<uint32_t> table_{};
};

}  // namespace emio
