// SPDX-License-Identifier: MIT
// A fixed-capacity arena of slots handed out as generation-tagged Tokens.
// Allocate, release and lookup are O(1). The memory is either caller-provided (a static array: no
// heap at all) or one allocation at init. Not thread-safe: the owner serialises access.
#pragma once

#include <cassert>
#include <cstdint>
#include <new>
#include <span>

#include "emio/alloc/token.h"

namespace emio {

template <typename T>
struct ArenaSlot {
  T value{};
  uint32_t generation = 0;
  uint32_t next_free = 0;  // index of the next free slot, or in_use while allocated
};

enum class ArenaStatus : uint8_t { ok, full, stale_token, no_storage };

template <typename T>
struct ArenaAllocation {
  ArenaStatus status;
  Token token;
  T* value;
};

template <typename T>
class SlotArena {
 public:
  using Slot = ArenaSlot<T>;

  SlotArena() = default;
  SlotArena(const SlotArena&) = delete;
  SlotArena& operator=(const SlotArena&) = delete;
  ~SlotArena() { delete[] owned_; }

  // Uses caller-provided storage; the arena never frees it.
  ArenaStatus init(std::span<Slot> storage) {
    assert(slots_.empty() && "init runs once");
    if (storage.empty() || storage.size() > Token::max_slots) return ArenaStatus::no_storage;
    slots_ = storage;
    link_free_list();
    return ArenaStatus::ok;
  }

  // Makes the one allocation this arena will ever do.
  ArenaStatus init(uint32_t capacity) {
    if (capacity == 0 || capacity > Token::max_slots) return ArenaStatus::no_storage;
    owned_ = new (std::nothrow) Slot[capacity];
    if (owned_ == nullptr) return ArenaStatus::no_storage;
    return init(std::span<Slot>(owned_, capacity));
  }

  // Gives the storage up (frees the one allocation, if it made it): init may run again.
  void release_storage() {
    delete[] owned_;
    owned_ = nullptr;
    slots_ = {};
    free_head_ = end_of_list;
    live_count_ = 0;
  }

  ArenaAllocation<T> allocate() {
    if (free_head_ == end_of_list) return {ArenaStatus::full, Token{}, nullptr};
    const uint32_t index = free_head_;
    Slot& slot = slots_[index];
    free_head_ = slot.next_free;
    slot.next_free = in_use;
    ++live_count_;
    return {ArenaStatus::ok, Token::make(index, slot.generation), &slot.value};
  }

  // Frees the slot and changes its generation, so every copy of the token is stale from now on.
  ArenaStatus release(Token token) {
    Slot* slot = live_slot(token);
    if (slot == nullptr) return ArenaStatus::stale_token;
    slot->generation += 1;  // wraps after 2^32 reuses: see token.h
    slot->next_free = free_head_;
    free_head_ = token.index();
    --live_count_;
    return ArenaStatus::ok;
  }

  // The value of a live token, or nullptr when the token is stale or was never issued.
  T* lookup(Token token) {
    Slot* slot = live_slot(token);
    return slot == nullptr ? nullptr : &slot->value;
  }

  // The value at an index, live or not: for callers that keep their own generation check.
  T& at(uint32_t index) {
    assert(index < slots_.size());
    return slots_[index].value;
  }
  // The generation the next token of this slot will carry (or the current one, while live).
  uint32_t generation_at(uint32_t index) const { return slots_[index].generation; }
  bool is_live(uint32_t index) const { return slots_[index].next_free == in_use; }

  uint32_t capacity() const { return static_cast<uint32_t>(slots_.size()); }
  uint32_t live_count() const { return live_count_; }

 private:
  static constexpr uint32_t in_use = 0xFFFFFFFFu;
  static constexpr uint32_t end_of_list = 0xFFFFFFFEu;
  static_assert(Token::max_slots < end_of_list, "sentinels must not be valid indices");

  // Slot 0 is handed out first; released slots are reused last-in, first-out.
  void link_free_list() {
    const uint32_t count = capacity();
    for (uint32_t i = 0; i < count; ++i) slots_[i].next_free = (i + 1 < count) ? i + 1 : end_of_list;
    free_head_ = 0;
    live_count_ = 0;
  }

  Slot* live_slot(Token token) {
    if (token.tag() != 0 || token.index() >= slots_.size()) return nullptr;
    Slot& slot = slots_[token.index()];
    if (slot.next_free != in_use || slot.generation != token.generation()) return nullptr;
    return &slot;
  }

  std::span<Slot> slots_{};
  Slot* owned_ = nullptr;
  uint32_t free_head_ = end_of_list;
  uint32_t live_count_ = 0;
};

}  // namespace emio
