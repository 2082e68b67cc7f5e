// SPDX-License-Identifier: MIT
// What a source wants to hear about. Bits, so that interests combine with |.
#pragma once

#include <cstdint>

namespace emio {

class Interest {
 public:
  static const Interest readable;
  static const Interest writable;
  static const Interest priority;  // out-of-band data, GPIO edge events on some drivers (EPOLLPRI)

  constexpr Interest() = default;
  constexpr uint8_t bits() const { return bits_; }
  constexpr bool empty() const { return bits_ == 0; }
  constexpr bool contains(Interest other) const { return (bits_ & other.bits_) == other.bits_; }
  constexpr Interest operator|(Interest other) const { return Interest(bits_ | other.bits_); }
  friend constexpr bool operator==(Interest, Interest) = default;

 private:
  constexpr explicit Interest(unsigned bits) : bits_(static_cast<uint8_t>(bits)) {}
  uint8_t bits_ = 0;
};

inline constexpr Interest Interest::readable{1};
inline constexpr Interest Interest::writable{2};
inline constexpr Interest Interest::priority{4};

}  // namespace emio
