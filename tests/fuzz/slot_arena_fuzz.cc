// SPDX-License-Identifier: MIT
// SlotArena and Token against a reference model: allocate, release, lookup of live, stale and made-up
// tokens, a full arena, and giving the storage up and taking it again. The model keeps its own free list
// (slot 0 first, then last in, first out, as slot_arena.h promises) and generations.
#include <fuzzer/FuzzedDataProvider.h>

#include <cstdint>

#include "emio/alloc/slot_arena.h"
#include "fuzz/fuzz_check.h"

namespace {

constexpr uint32_t max_capacity = 16;
constexpr uint32_t max_tokens = 64;  // tokens the fuzzer remembers, live or stale

struct Model {
  uint32_t capacity = 0;
  uint32_t generation[max_capacity] = {};
  bool live[max_capacity] = {};
  uint32_t free_stack[max_capacity] = {};  // the top is the next slot handed out
  uint32_t free_count = 0;
  uint32_t live_count = 0;
  emio::Token tokens[max_tokens];
  uint32_t token_count = 0;
  uint64_t next_stamp = 1;

  void reset(uint32_t new_capacity) {
    capacity = new_capacity;
    free_count = 0;
    for (uint32_t i = capacity; i > 0; --i) free_stack[free_count++] = i - 1;
    for (bool& slot_live : live) slot_live = false;
    live_count = 0;
  }
  bool is_live(emio::Token token) const {
    return token.tag() == 0 && token.index() < capacity && live[token.index()] &&
           generation[token.index()] == token.generation();
  }
  void remember(emio::Token token) { tokens[token_count++ % max_tokens] = token; }
  emio::Token remembered(FuzzedDataProvider& input) const {
    if (token_count == 0) return emio::Token{};
    const uint32_t known = token_count < max_tokens ? token_count : max_tokens;
    return tokens[input.ConsumeIntegralInRange<uint32_t>(0, known - 1)];
  }
};

void allocate(emio::SlotArena<uint64_t>& arena, Model& model) {
  const emio::ArenaAllocation<uint64_t> got = arena.allocate();
  if (model.free_count == 0) {
    FUZZ_CHECK(got.status == emio::ArenaStatus::full && got.value == nullptr, "a full arena handed out a slot");
    return;
  }
  const uint32_t index = model.free_stack[--model.free_count];
  FUZZ_CHECK(got.status == emio::ArenaStatus::ok, "allocate failed with free slots left");
  FUZZ_CHECK(got.token == emio::Token::make(index, model.generation[index]), "allocate chose another slot");
  model.live[index] = true;
  model.live_count += 1;
  *got.value = model.next_stamp++;
  model.remember(got.token);
}

void release(emio::SlotArena<uint64_t>& arena, Model& model, emio::Token token) {
  const bool was_live = model.is_live(token);
  const emio::ArenaStatus status = arena.release(token);
  FUZZ_CHECK(status == (was_live ? emio::ArenaStatus::ok : emio::ArenaStatus::stale_token),
             "release of a live token failed, or of a stale one succeeded");
  if (!was_live) return;
  model.live[token.index()] = false;
  model.generation[token.index()] += 1;
  model.free_stack[model.free_count++] = token.index();
  model.live_count -= 1;
}

void lookup(emio::SlotArena<uint64_t>& arena, const Model& model, emio::Token token) {
  uint64_t* value = arena.lookup(token);
  FUZZ_CHECK((value != nullptr) == model.is_live(token), "lookup disagrees with the model");
  if (value != nullptr) FUZZ_CHECK(value == &arena.at(token.index()), "lookup returned another slot's value");
}

void check_counts(emio::SlotArena<uint64_t>& arena, const Model& model) {
  FUZZ_CHECK(arena.live_count() == model.live_count, "live_count disagrees with the model");
  FUZZ_CHECK(arena.capacity() == model.capacity, "capacity changed");
  for (uint32_t i = 0; i < model.capacity; ++i) {
    FUZZ_CHECK(arena.is_live(i) == model.live[i], "is_live disagrees with the model");
    FUZZ_CHECK(arena.generation_at(i) == model.generation[i], "a generation moved without a release");
  }
}

void run_step(emio::SlotArena<uint64_t>& arena, Model& model, FuzzedDataProvider& input) {
  switch (input.ConsumeIntegralInRange<int>(0, 4)) {
    case 0:
      return allocate(arena, model);
    case 1:
      return release(arena, model, model.remembered(input));
    case 2:
      return lookup(arena, model, model.remembered(input));
    case 3: {  // a token nobody was given: any index, generation and tag
      const emio::Token made_up = emio::Token::from_bits(input.ConsumeIntegral<uint64_t>());
      lookup(arena, model, made_up);
      return release(arena, model, made_up);
    }
    default: {  // the storage given up and taken again: every token issued before is stale
      arena.release_storage();
      FUZZ_CHECK(arena.capacity() == 0 && arena.lookup(model.remembered(input)) == nullptr,
                 "an arena without storage found a value");
      return;
    }
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  FuzzedDataProvider input(data, size);
  static emio::ArenaSlot<uint64_t> storage[max_capacity];
  for (emio::ArenaSlot<uint64_t>& slot : storage) slot = emio::ArenaSlot<uint64_t>{};
  emio::SlotArena<uint64_t> arena;
  Model model;
  const uint32_t capacity = input.ConsumeIntegralInRange<uint32_t>(1, max_capacity);
  FUZZ_CHECK(arena.init(std::span(storage, capacity)) == emio::ArenaStatus::ok, "init refused its storage");
  model.reset(capacity);
  while (input.remaining_bytes() > 0) {
    run_step(arena, model, input);
    if (arena.capacity() == 0) {  // storage was given up: take it again, generations carry on in the slots
      FUZZ_CHECK(arena.init(std::span(storage, capacity)) == emio::ArenaStatus::ok, "init again refused");
      model.reset(capacity);
    }
    check_counts(arena, model);
  }
  return 0;
}
