// SPDX-License-Identifier: MIT
#include "fault/fault_layer.h"

#include <unistd.h>

#include <array>
#include <cstdlib>

namespace emio_fault {
namespace {

constexpr size_t max_rules = 16;
constexpr size_t remembered_fd_capacity = 32;
constexpr size_t planted_leak_capacity = 64;

// Per thread: only the thread that armed a schedule sees faults, so CppUTest's output, the sanitizers'
// helper threads and other tests' threads run untouched.
struct State {
  const Schedule* schedule = nullptr;
  uint64_t seed = 0;
  std::array<uint64_t, static_cast<size_t>(Call::count)> calls{};
  std::array<uint32_t, max_rules> burst_left{};
  std::array<uint64_t, static_cast<size_t>(Effect::count)> injected_by_effect{};
  uint64_t cq_overflows = 0;
  uint64_t draws = 0;
  std::array<int, remembered_fd_capacity> fds{};
  uint32_t fd_count = 0;
};
thread_local State state;

// Apart from State: arm() resets that, and the leaked fds must stay open until the test has counted them.
struct PlantedLeaks {
  std::array<int, planted_leak_capacity> fds{};
  uint32_t count = 0;
};
thread_local PlantedLeaks planted_leaks;

// splitmix64: a stateless hash of (seed, stream, n), so decisions do not depend on one another.
uint64_t mix(uint64_t value) {
  value += 0x9e3779b97f4a7c15u;
  value = (value ^ (value >> 30)) * 0xbf58476d1ce4e5b9u;
  value = (value ^ (value >> 27)) * 0x94d049bb133111ebu;
  return value ^ (value >> 31);
}

uint64_t hash(uint64_t stream, uint64_t n) { return mix(state.seed ^ mix(stream ^ mix(n))); }

}  // namespace

void arm(const Schedule& schedule, uint64_t seed) {
  state = State{};
  if (schedule.rules.size() > max_rules) std::abort();  // a test's table, fixed at compile time
  state.schedule = &schedule;
  state.seed = seed;
}

void disarm() { state.schedule = nullptr; }

uint64_t injected() {
  uint64_t total = 0;
  for (const uint64_t count : state.injected_by_effect) total += count;
  return total;
}

uint64_t injected(Effect effect) { return state.injected_by_effect[static_cast<size_t>(effect)]; }

bool armed() { return state.schedule != nullptr; }

uint64_t cq_overflows_seen() { return state.cq_overflows; }

void note_cq_overflow() {
  if (armed()) state.cq_overflows += 1;
}

void keep_planted_leak(int fd) {
  if (fd < 0) return;
  if (planted_leaks.count == planted_leak_capacity) {
    (void)::close(fd);  // enough to be seen
    return;
  }
  planted_leaks.fds[planted_leaks.count++] = fd;
}

void close_planted_leaks() {
  for (uint32_t i = 0; i < planted_leaks.count; ++i) (void)::close(planted_leaks.fds[i]);
  planted_leaks.count = 0;
}

uint64_t seed_from_environment(uint64_t fallback) {
  const char* text = std::getenv("EMIO_FAULT_SEED");
  if (text == nullptr || *text == '\0') return fallback;
  return std::strtoull(text, nullptr, 10);
}

const Rule* decide(Call call) {
  if (state.schedule == nullptr) return nullptr;
  const uint64_t n = state.calls[static_cast<size_t>(call)]++;
  const std::span<const Rule> rules = state.schedule->rules;
  for (size_t index = 0; index < rules.size(); ++index) {
    const Rule& rule = rules[index];
    if (rule.call != call) continue;
    bool fires = state.burst_left[index] > 0;
    if (fires) {
      state.burst_left[index] -= 1;
    } else if (hash(index, n) % 1000 < rule.per_mille) {
      fires = true;
      state.burst_left[index] = rule.burst_calls > 0 ? rule.burst_calls - 1 : 0;
    }
    if (!fires) continue;
    state.injected_by_effect[static_cast<size_t>(rule.effect)] += 1;
    return &rule;
  }
  return nullptr;
}

uint64_t draw() { return hash(max_rules + 1, state.draws++); }

void remember_fd(int fd) {
  if (state.schedule == nullptr || fd < 0) return;
  state.fds[state.fd_count++ % remembered_fd_capacity] = fd;
}

int pick_remembered_fd() {
  if (state.fd_count == 0) return -1;
  const uint32_t held = state.fd_count < remembered_fd_capacity ? state.fd_count : remembered_fd_capacity;
  return state.fds[draw() % held];
}

}  // namespace emio_fault
