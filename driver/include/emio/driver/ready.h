// SPDX-License-Identifier: MIT
// What the OS said about a source. Six bits, so that a set of them fits in the ScheduledIo state word.
#pragma once

#include <cstdint>

namespace emio {

class Ready {
 public:
  static const Ready readable;
  static const Ready writable;
  static const Ready read_closed;   // the peer will send nothing more (EPOLLRDHUP, EPOLLHUP); final
  static const Ready write_closed;  // nothing more can be sent (EPOLLHUP, EPOLLERR on a pipe); final
  static const Ready error;         // the source has a pending error (EPOLLERR); read SO_ERROR
  static const Ready priority;      // EPOLLPRI
  static const Ready all;
  // Closed states are final: clearing readiness never clears them.
  static const Ready final_states;

  static constexpr unsigned bit_count = 6;

  constexpr Ready() = default;
  static constexpr Ready from_bits(unsigned bits) { return Ready(bits & ((1u << bit_count) - 1)); }

  constexpr uint8_t bits() const { return bits_; }
  constexpr bool empty() const { return bits_ == 0; }
  constexpr bool contains(Ready other) const { return (bits_ & other.bits_) == other.bits_; }
  constexpr bool intersects(Ready other) const { return (bits_ & other.bits_) != 0; }
  constexpr bool is_readable() const;
  constexpr bool is_writable() const;
  constexpr bool is_read_closed() const;
  constexpr bool is_write_closed() const;
  constexpr bool is_error() const;
  constexpr bool is_priority() const;

  constexpr Ready operator|(Ready other) const { return Ready(bits_ | other.bits_); }
  constexpr Ready operator&(Ready other) const { return Ready(bits_ & other.bits_); }
  constexpr Ready without(Ready other) const { return Ready(bits_ & ~other.bits_); }
  friend constexpr bool operator==(Ready, Ready) = default;

 private:
  constexpr explicit Ready(unsigned bits) : bits_(static_cast<uint8_t>(bits)) {}
  uint8_t bits_ = 0;
};

inline constexpr Ready Ready::readable{1};
inline constexpr Ready Ready::writable{2};
inline constexpr Ready Ready::read_closed{4};
inline constexpr Ready Ready::write_closed{8};
inline constexpr Ready Ready::error{16};
inline constexpr Ready Ready::priority{32};
inline constexpr Ready Ready::all{63};
inline constexpr Ready Ready::final_states{4 | 8};

constexpr bool Ready::is_readable() const { return intersects(readable); }
constexpr bool Ready::is_writable() const { return intersects(writable); }
constexpr bool Ready::is_read_closed() const { return intersects(read_closed); }
constexpr bool Ready::is_write_closed() const { return intersects(write_closed); }
constexpr bool Ready::is_error() const { return intersects(error); }
constexpr bool Ready::is_priority() const { return intersects(priority); }

}  // namespace emio
