// SPDX-License-Identifier: MIT
// The fault layer itself: a seed replays its decisions, and only the arming thread meets faults.
#include <unistd.h>

#include <cerrno>
#include <thread>

#include "fault/fault_layer.h"
#include "support/check.h"
#include "support/sockets.h"

using emio_fault::Call;
using emio_fault::Effect;
using emio_fault::Rule;
using emio_fault::Schedule;

namespace {

constexpr Rule half_of_reads_fail[] = {{Call::read, Effect::fail, EINTR, 500, 1}};
constexpr Schedule half_of_reads{"half of reads", half_of_reads_fail};
constexpr Rule every_read_fails[] = {{Call::read, Effect::fail, EINTR, 1000, 1}};
constexpr Schedule every_read{"every read", every_read_fails};

// Which of 64 decisions for reads fire, as bits.
uint64_t decisions_for(uint64_t seed) {
  emio_fault::arm(half_of_reads, seed);
  uint64_t fired = 0;
  for (int n = 0; n < 64; ++n) fired |= uint64_t{emio_fault::decide(Call::read) != nullptr} << n;
  emio_fault::disarm();
  return fired;
}

}  // namespace

TEST_GROUP(FaultLayer){void teardown() override{emio_fault::disarm();
}
}
;

TEST(FaultLayer, TheSameSeedReplaysTheSameDecisions) {
  CHECK_EQUAL(decisions_for(7), decisions_for(7));
  CHECK(decisions_for(7) != decisions_for(8));
}

TEST(FaultLayer, AnArmedScheduleFailsTheWrappedCall) {
  emio_test::FdPair pipe = emio_test::make_pipe();
  emio_fault::arm(every_read, 1);
  char byte = 0;
  const ssize_t got = ::read(pipe.first.get(), &byte, 1);
  const int error = errno;
  emio_fault::disarm();
  CHECK_EQUAL(-1, got);
  CHECK_EQUAL(EINTR, error);
  CHECK_EQUAL(1u, emio_fault::injected(Effect::fail));
}

TEST(FaultLayer, OtherThreadsNeverMeetFaults) {
  emio_test::FdPair pipe = emio_test::make_pipe();
  emio_fault::arm(every_read, 1);
  ssize_t got = 0;
  std::thread other([&] { got = ::read(pipe.first.get(), nullptr, 0); });
  other.join();
  emio_fault::disarm();
  CHECK_EQUAL(0, got);
}
