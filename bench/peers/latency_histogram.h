// SPDX-License-Identifier: MIT
// Round-trip times in a fixed log-linear histogram: exact below 64 ns, then 32 buckets per power of two
// (a bucket is at most 1/32 = 3 % wide), up to 2^40 ns. Fixed size, so recording never allocates.
#pragma once

#include <bit>
#include <cstdint>

namespace emio_peers {

class LatencyHistogram {
 public:
  void record(uint64_t latency_ns) {
    counts_[index_of(latency_ns < max_ns ? latency_ns : max_ns - 1)] += 1;
    total_ += 1;
  }

  uint64_t total() const { return total_; }

  // The latency below which `fraction` (0 to 1) of the recorded ones fall: the middle of that bucket.
  uint64_t quantile_ns(double fraction) const {
    if (total_ == 0) return 0;
    auto wanted = static_cast<uint64_t>(fraction * static_cast<double>(total_));
    if (wanted >= total_) wanted = total_ - 1;
    uint64_t seen = 0;
    for (uint32_t index = 0; index < bucket_count; ++index) {
      seen += counts_[index];
      if (seen > wanted) return middle_of(index);
    }
    return max_ns;
  }

 private:
  static constexpr uint32_t sub_bucket_bits = 5;
  static constexpr uint64_t sub_buckets = uint64_t{1} << sub_bucket_bits;
  static constexpr uint64_t exact_below = 2 * sub_buckets;  // values under 64 ns have a bucket each
  static constexpr uint64_t max_ns = uint64_t{1} << 40;
  static constexpr uint32_t bucket_count = exact_below + (40 - sub_bucket_bits - 1) * sub_buckets;

  // The shift that brings `value` into [sub_buckets, 2 * sub_buckets).
  static uint32_t shift_of(uint64_t value) {
    return static_cast<uint32_t>(std::bit_width(value)) - (sub_bucket_bits + 1);
  }
  static uint32_t index_of(uint64_t value) {
    if (value < exact_below) return static_cast<uint32_t>(value);
    const uint32_t shift = shift_of(value);
    return static_cast<uint32_t>(exact_below + (shift - 1) * sub_buckets + ((value >> shift) - sub_buckets));
  }
  static uint64_t middle_of(uint32_t index) {
    if (index < exact_below) return index;
    const uint32_t shift = (index - exact_below) / sub_buckets + 1;
    const uint64_t lowest = (sub_buckets + (index - exact_below) % sub_buckets) << shift;
    return lowest + (uint64_t{1} << shift) / 2;
  }

  uint64_t counts_[bucket_count] = {};
  uint64_t total_ = 0;
};

}  // namespace emio_peers
