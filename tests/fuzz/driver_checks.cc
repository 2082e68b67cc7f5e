// SPDX-License-Identifier: MIT
#include "fuzz/driver_checks.h"

#include <poll.h>
#include <sys/ioctl.h>

#include <cinttypes>
#include <cstdio>

#include "fuzz/fuzz_check.h"

namespace emio_fuzz {
namespace {

constexpr int settle_turns = 20;  // io_uring may post a poll's completion a turn later than epoll reports it
// Turns that dropped stale events (a removed source's, still in the queue) do not count towards
// settle_turns: they take a turn's event slots (16 here) ahead of live events. A backlog of them delayed
// an event past 20 turns once in 14 million inputs (2026-12-04: polls removed before they were submitted,
// which the io_uring backend now withdraws; UringUnpublishedPoll). Each such turn drains at least one, so
// they end within the completion queue's size.
constexpr int max_draining_turns = 1024;

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

bool is_lost(const Harness& harness, const ModelRegistration& registration) {
  return must_be_readable(harness, registration) &&
         !registration.registration.io->readiness(emio::Direction::read).ready.is_readable();
}

bool lost_event(const Harness& harness) {
  for (const ModelRegistration& registration : harness.registrations) {
    if (is_lost(harness, registration)) return true;
  }
  return false;
}

// What the kernel and the driver say of each registration whose event is lost: tells a lost event in the
// driver (the kernel says readable) from a model gone wrong (it does not), and whether it is late or gone.
void report_lost_events(Harness& harness) {
  std::fprintf(stderr, "backend %s, %" PRIu32 " registrations live\n", harness.driver->backend_name(),
               harness.driver->live_registrations());
  for (int slot = 0; slot < static_cast<int>(driver_capacity); ++slot) {
    const ModelRegistration& registration = harness.registrations[slot];
    if (!is_lost(harness, registration)) continue;
    const End& end = harness.ends[registration.end];
    pollfd polled{end.fd.get(), POLLIN, 0};
    const int polled_count = ::poll(&polled, 1, 0);
    int queued_bytes = -1;
    (void)::ioctl(end.fd.get(), FIONREAD, &queued_bytes);
    const emio::ReadyEvent read = registration.registration.io->readiness(emio::Direction::read);
    const emio::ReadyEvent write = registration.registration.io->readiness(emio::Direction::write);
    std::fprintf(stderr,
                 "r%d: token 0x%016" PRIx64
                 ", end %d (fd %d, %s), %zu bytes pending in the model, kernel: poll %d "
                 "revents 0x%x, FIONREAD %d; driver: read ready 0x%x tick %u, write ready 0x%x tick %u\n",
                 slot, registration.registration.token.bits(), registration.end, end.fd.get(),
                 end.writes ? "socket" : "pipe", end.pending_bytes, polled_count, polled.revents, queued_bytes,
                 read.ready.bits(), read.tick, write.ready.bits(), write.tick);
  }
  int turns = 0;
  while (turns < 50 && lost_event(harness)) {
    (void)harness.driver->turn(20);
    turns += 1;
  }
  std::fprintf(stderr, "%s after %d more turns of up to 20 ms\n", lost_event(harness) ? "still lost" : "reported",
               turns);
}

}  // namespace

void check_event_is_its_own(const ModelRegistration& registration, const emio::ReadyEvent& event) {
  // An orphan's old file may still report (io_uring's poll holds the file past close): not checked.
  if (registration.end < 0 || event.direction != emio::Direction::read) return;
  FUZZ_CHECK(!event.ready.is_readable() || registration.saw_bytes,
             "a readable event reached a registration whose file never had bytes (an event to a new owner)");
}

void check_no_lost_event(Harness& harness) {
  int quiet_turns = 0;
  for (int turn = 0; quiet_turns < settle_turns && turn < settle_turns + max_draining_turns && lost_event(harness);
       ++turn) {
    const uint64_t stale_before = harness.driver->stats().stale_events_dropped;
    FUZZ_CHECK(harness.driver->turn(1).ok(), "turn failed");
    if (harness.driver->stats().stale_events_dropped == stale_before) quiet_turns += 1;
  }
  if (!lost_event(harness)) return;
  report_lost_events(harness);
  FUZZ_CHECK(false, "a registration whose file holds bytes was never reported readable");
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
