// SPDX-License-Identifier: MIT
#include "fuzz/driver_checks.h"

#include "fuzz/fuzz_check.h"

namespace emio_fuzz {
namespace {

constexpr int settle_turns = 20;  // io_uring may post a poll's completion a turn later than epoll reports it

uint32_t model_live_count(const Harness& harness) {
  uint32_t live = 0;
  for (const ModelRegistration& registration : harness.registrations) live += registration.live ? 1 : 0;
  return live;
}

uint32_t model_operations_in_flight(const Harness& harness) {
  uint32_t in_flight = 0;
  for (const OpRecord& record : harness.records) in_flight += record.in_flight() ? 1 : 0;
  return in_flight;
}

// A live registration of a file still open (not an orphan) that holds bytes it watches for.
bool must_be_readable(const Harness& harness, const ModelRegistration& registration) {
  if (!registration.live || registration.end < 0) return false;
  const End& end = harness.ends[registration.end];
  return end.reads && end.pending_bytes > 0;
}

bool lost_event(const Harness& harness) {
  for (const ModelRegistration& registration : harness.registrations) {
    if (!must_be_readable(harness, registration)) continue;
    if (!registration.registration.io->readiness(emio::Direction::read).ready.is_readable()) return true;
  }
  return false;
}

}  // namespace

void check_event_is_its_own(const ModelRegistration& registration, const emio::ReadyEvent& event) {
  // An orphan's old file may still report (io_uring's poll holds the file past close): not checked.
  if (registration.end < 0 || event.direction != emio::Direction::read) return;
  FUZZ_CHECK(!event.ready.is_readable() || registration.saw_bytes,
             "a readable event reached a registration whose file never had bytes (an event to a new owner)");
}

void check_no_lost_event(Harness& harness) {
  for (int turn = 0; turn < settle_turns && lost_event(harness); ++turn) {
    FUZZ_CHECK(harness.driver->turn(1).ok(), "turn failed");
  }
  FUZZ_CHECK(!lost_event(harness), "a registration whose file holds bytes was never reported readable");
}

void check_after_step(Harness& harness) {
  const uint32_t source_registration = harness.source.registration.io != nullptr ? 1 : 0;
  FUZZ_CHECK(harness.driver->live_registrations() == model_live_count(harness) + source_registration,
             "live_registrations disagrees with the registrations made");
  FUZZ_CHECK(harness.driver->operations_in_flight() == model_operations_in_flight(harness),
             "operations_in_flight disagrees with the operations submitted");
  for (const ModelRegistration& registration : harness.registrations) {
    if (registration.live)
      check_event_is_its_own(registration, registration.registration.io->readiness(emio::Direction::read));
  }
  FUZZ_CHECK(harness.received_by_local <= harness.sent_to_local, "recv delivered bytes nobody sent");
  // A send in flight may have moved its bytes already: its completion runs at a later turn.
  const OpRecord& send = harness.records[op_send];
  const uint64_t sending = send.in_flight() ? send.op.length : 0;
  FUZZ_CHECK(harness.received_from_local <= harness.sent_by_local + sending, "the peer read bytes no send sent");
}

}  // namespace emio_fuzz
