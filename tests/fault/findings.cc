// SPDX-License-Identifier: MIT
#include "fault/findings.h"

#include <array>

namespace emio_fault_test {
namespace {

constexpr std::array<const char*, static_cast<size_t>(Finding::count)> names = {
    "a turn failed",
    "the round did not finish",
    "the server failed",
    "a client failed",
    "a byte differs",
    "bytes missing",
    "bytes extra",
    "registrations leaked",
    "tasks leaked",
    "frames leaked",
    "operations leaked",
    "fds leaked",
    "the clean round after the faults failed"};

}  // namespace

const char* name_of(Finding finding) { return names[static_cast<size_t>(finding)]; }

SimpleString Findings::describe(uint64_t seed) const {
  SimpleString text;
  for (size_t index = 0; index < names.size(); ++index) {
    if (!has(static_cast<Finding>(index))) continue;
    text += text.isEmpty() ? "" : ", ";
    text += names[index];
  }
  if (text.isEmpty()) text = "nothing";
  return text + StringFromFormat(" (seed %llu: EMIO_FAULT_SEED=%llu replays it)", static_cast<unsigned long long>(seed),
                                 static_cast<unsigned long long>(seed));
}

}  // namespace emio_fault_test
