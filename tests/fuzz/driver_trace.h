// SPDX-License-Identifier: MIT
// The driver fuzz target's flight recorder: the last steps run on one driver, across inputs (the driver
// is kept, so what earlier inputs left in it is part of a failure). Printed when a check fails, so that a
// finding that does not recur when its input is replayed alone is still understood from its log: the
// lost event of the 155-minute run of 2026-12-04 (docs/testing.md) was not.
#pragma once

#include <cstdint>

namespace emio_fuzz {

enum class Step : uint8_t {
  input_begins,
  add,
  deregister,
  turn,
  wake,
  poll_ready,
  clear_waker,
  drain_and_clear,
  write,
  reopen,
  submit,
  feed_operations,
  drain_operations,
};

struct TraceEntry {
  Step step = Step::input_begins;
  int8_t registration = -1;  // the model registration it concerned (chosen or made), or -1
  int16_t argument = 0;      // the end, direction, byte count or channel it was given
  int32_t outcome = 0;       // what it left: an end's pending bytes, the input's number, ...
};

class StepTrace {
 public:
  static constexpr uint32_t capacity = 256;
  void record(Step step, int registration, int argument, int32_t outcome) {
    entries_[recorded_ % capacity] =
        TraceEntry{step, static_cast<int8_t>(registration), static_cast<int16_t>(argument), outcome};
    recorded_ += 1;
  }
  // The last `capacity` entries, oldest first, one line each, on stderr.
  void print(const char* backend_name) const;

 private:
  TraceEntry entries_[capacity];
  uint64_t recorded_ = 0;
};

}  // namespace emio_fuzz
