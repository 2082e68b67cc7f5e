// SPDX-License-Identifier: MIT
#include "emio/alloc/slot_arena.h"

#include <CppUTest/TestHarness.h>

using emio::ArenaSlot;
using emio::ArenaStatus;
using emio::SlotArena;
using emio::Token;

TEST_GROUP(SlotArena) {
  SlotArena<int> arena;
  void setup() override { CHECK(arena.init(4) == ArenaStatus::ok); }
};

TEST(SlotArena, AllocatedTokenLooksUpItsValue) {
  auto allocation = arena.allocate();
  CHECK(allocation.status == ArenaStatus::ok);
  *allocation.value = 42;
  POINTERS_EQUAL(allocation.value, arena.lookup(allocation.token));
  CHECK_EQUAL(1u, arena.live_count());
}

TEST(SlotArena, FullArenaSaysFull) {
  for (int i = 0; i < 4; ++i) CHECK(arena.allocate().status == ArenaStatus::ok);
  auto overflow = arena.allocate();
  CHECK(overflow.status == ArenaStatus::full);
  POINTERS_EQUAL(nullptr, overflow.value);
}

TEST(SlotArena, ReleasedTokenIsStaleAtOnce) {
  auto allocation = arena.allocate();
  CHECK(arena.release(allocation.token) == ArenaStatus::ok);
  POINTERS_EQUAL(nullptr, arena.lookup(allocation.token));
  CHECK(arena.release(allocation.token) == ArenaStatus::stale_token);
  CHECK_EQUAL(0u, arena.live_count());
}

TEST(SlotArena, ReusedSlotGetsANewGenerationAndTheOldTokenStaysStale) {
  auto first = arena.allocate();
  CHECK(arena.release(first.token) == ArenaStatus::ok);
  auto second = arena.allocate();
  CHECK_EQUAL(first.token.index(), second.token.index());
  CHECK(first.token.generation() != second.token.generation());
  POINTERS_EQUAL(nullptr, arena.lookup(first.token));
  POINTERS_EQUAL(second.value, arena.lookup(second.token));
}

TEST(SlotArena, GenerationChangesOnEveryReuse) {
  auto allocation = arena.allocate();
  const uint32_t index = allocation.token.index();
  for (uint32_t reuse = 1; reuse <= 1000; ++reuse) {
    CHECK(arena.release(allocation.token) == ArenaStatus::ok);
    allocation = arena.allocate();
    CHECK_EQUAL(index, allocation.token.index());
    CHECK_EQUAL(reuse, allocation.token.generation());
  }
}

TEST(SlotArena, TokensOutsideTheArenaOrTaggedAreRejected) {
  (void)arena.allocate();
  POINTERS_EQUAL(nullptr, arena.lookup(Token::make(4, 0)));
  POINTERS_EQUAL(nullptr, arena.lookup(Token::make(0, 0, 1)));
}

TEST(SlotArena, CallerProvidedStorageIsUsedInPlace) {
  static ArenaSlot<int> storage[2];
  SlotArena<int> static_arena;
  CHECK(static_arena.init(storage) == ArenaStatus::ok);
  auto allocation = static_arena.allocate();
  CHECK(allocation.value == &storage[0].value || allocation.value == &storage[1].value);
  CHECK_EQUAL(2u, static_arena.capacity());
}

TEST(SlotArena, ZeroCapacityIsRefused) {
  SlotArena<int> empty;
  CHECK(empty.init(0u) == ArenaStatus::no_storage);
  CHECK(empty.init(Token::max_slots + 1) == ArenaStatus::no_storage);
}

TEST(SlotArena, TokenLayoutRoundTrips) {
  const Token token = Token::make(Token::max_slots - 1, 0xDEADBEEFu, 0);
  CHECK_EQUAL(Token::max_slots - 1, token.index());
  CHECK_EQUAL(0xDEADBEEFu, token.generation());
  CHECK(Token::from_bits(token.bits()) == token);
}
