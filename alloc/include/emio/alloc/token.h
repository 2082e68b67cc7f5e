// SPDX-License-Identifier: MIT
// A Token names one use of one registration slot. The kernel hands it back with every event
// (epoll_data.u64, io_uring user_data, kevent udata), so it must fit in 64 bits and decode in O(1).
#pragma once

#include <cstdint>

namespace emio {

// Layout, from the least significant bit:
//   index      24 bits  which slot of the arena (up to 16 777 216 slots)
//   generation 32 bits  which use of that slot; changes every time the slot is freed
//   tag         8 bits  zero for arena tokens; the driver reserves non-zero tags for its own events
// A token kept after its slot was freed matches again only after the slot has been reused exactly
// 2^32 times (4 294 967 296): at one reuse per microsecond, after 71 minutes of reusing that one slot
// and nothing else, which is why the generation is as wide as the layout allows (tokio-rs/tokio#8331).
class Token {
 public:
  static constexpr unsigned index_bits = 24;
  static constexpr unsigned generation_bits = 32;
  static constexpr unsigned tag_bits = 8;
  static constexpr unsigned generation_shift = index_bits;
  static constexpr unsigned tag_shift = index_bits + generation_bits;
  static constexpr uint32_t max_slots = uint32_t{1} << index_bits;

  constexpr Token() = default;

  static constexpr Token make(uint32_t index, uint32_t generation, uint8_t tag = 0) {
    return Token{(uint64_t{index} & index_mask) | (uint64_t{generation} << generation_shift) |
                 (uint64_t{tag} << tag_shift)};
  }
  static constexpr Token from_bits(uint64_t bits) { return Token{bits}; }

  constexpr uint64_t bits() const { return bits_; }
  constexpr uint32_t index() const { return static_cast<uint32_t>(bits_ & index_mask); }
  constexpr uint32_t generation() const { return static_cast<uint32_t>(bits_ >> generation_shift); }
  constexpr uint8_t tag() const { return static_cast<uint8_t>(bits_ >> tag_shift); }

  friend constexpr bool operator==(Token, Token) = default;

 private:
  static constexpr uint64_t index_mask = (uint64_t{1} << index_bits) - 1;

  constexpr explicit Token(uint64_t bits) : bits_(bits) {}

  uint64_t bits_ = 0;
};

static_assert(Token::index_bits + Token::generation_bits + Token::tag_bits == 64,
              "a token is exactly the 64 bits the kernel hands back");
static_assert(Token::generation_bits >= 24, "a narrow generation lets stale tokens match again soon");
static_assert(sizeof(Token) == sizeof(uint64_t));
static_assert(Token::make(Token::max_slots - 1, 0xFFFFFFFFu, 0xFF).bits() == ~uint64_t{0});
static_assert(Token::make(5, 7, 9).index() == 5 && Token::make(5, 7, 9).generation() == 7 &&
              Token::make(5, 7, 9).tag() == 9);

}  // namespace emio
