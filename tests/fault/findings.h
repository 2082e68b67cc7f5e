// SPDX-License-Identifier: MIT
// What the fault tests' traffic checks can find wrong. A run without a planted defect must find nothing;
// the harness tests (harness_fault_test.cc) plant one and require its finding, so no check is one that
// cannot fail.
#pragma once

#include <CppUTest/SimpleString.h>

#include <cstdint>

namespace emio_fault_test {

enum class Finding : uint8_t {
  turn_failed,       // Executor::run_once returned an error
  round_unfinished,  // the traffic had not ended by its deadline
  server_failed,     // the server or the bridge met an error no daemon should
  client_failed,     // a client did
  bytes_differ,      // a byte arrived that is not the one sent at its place
  bytes_missing,     // fewer bytes arrived than were sent
  bytes_extra,       // more arrived
  registrations_leaked,
  tasks_leaked,
  frames_leaked,
  operations_leaked,
  fds_leaked,
  stopped_serving,  // the round without faults that follows found any of the above
  count,
};
static_assert(static_cast<unsigned>(Finding::count) <= 32, "Findings holds them in 32 bits");

class Findings {
 public:
  void add(Finding finding) { bits_ |= 1u << static_cast<unsigned>(finding); }
  void add_if(bool found, Finding finding) {
    if (found) add(finding);
  }
  bool has(Finding finding) const { return (bits_ & (1u << static_cast<unsigned>(finding))) != 0; }
  bool none() const { return bits_ == 0; }
  // The findings by name, and how to replay the run.
  SimpleString describe(uint64_t seed) const;

 private:
  uint32_t bits_ = 0;
};

const char* name_of(Finding finding);

}  // namespace emio_fault_test

// The check of a run that must find nothing.
#define CHECK_NO_FINDINGS(findings, seed) CHECK_TEXT((findings).none(), (findings).describe(seed).asCharString())
// The check of a harness test: its planted defect was seen.
#define CHECK_FINDING(findings, finding, seed)                                                                        \
  CHECK_TEXT((findings).has(finding), (SimpleString("expected ") + ::emio_fault_test::name_of(finding) + ", found " + \
                                       (findings).describe(seed))                                                     \
                                          .asCharString())
