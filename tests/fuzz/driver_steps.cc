// SPDX-License-Identifier: MIT
#include "fuzz/driver_steps.h"

#include <cerrno>

#include "fuzz/driver_checks.h"
#include "fuzz/driver_operations.h"
#include "fuzz/fuzz_check.h"

namespace emio_fuzz {
namespace {

using emio::Direction;

ModelRegistration* live_registration(Harness& harness, FuzzedDataProvider& input) {
  ModelRegistration& registration =
      harness.registrations[input.ConsumeIntegralInRange<uint32_t>(0, driver_capacity - 1)];
  return registration.live ? &registration : nullptr;
}

Direction direction_from(FuzzedDataProvider& input) { return input.ConsumeBool() ? Direction::read : Direction::write; }

void on_probe_wake(void* context) {
  auto* probe = static_cast<Probe*>(context);
  FUZZ_CHECK(probe->stored, "a waker ran after clear_waker, deregister or a ready poll_ready gave it up");
  probe->stored = false;  // the driver took it
}

void retire_probe(Probe*& probe) {
  if (probe != nullptr) probe->stored = false;
  probe = nullptr;
}

void add(Harness& harness, int end_index) {
  End& end = harness.ends[end_index];
  const bool full = harness.driver->live_registrations() == driver_capacity;
  const emio::Interest interest = end.reads && end.writes ? emio::Interest::readable | emio::Interest::writable
                                  : end.reads             ? emio::Interest::readable
                                                          : emio::Interest::writable;
  emio::Result<emio::Registration> added = harness.driver->handle().add_source(end.fd.get(), interest);
  if (end.registration >= 0) {
    FUZZ_CHECK(!added.ok(), "a second add_source of one open file succeeded");
    return;
  }
  if (full) {
    FUZZ_CHECK(!added.ok() && added.error() == emio::Error::registrations_full, "a full table took a registration");
    return;
  }
  FUZZ_CHECK(added.ok(), "add_source failed with room left");
  for (int slot = 0; slot < static_cast<int>(driver_capacity); ++slot) {
    ModelRegistration& registration = harness.registrations[slot];
    if (registration.live) continue;
    registration = ModelRegistration{true, added.value(), end_index, end.pending_bytes > 0, {}};
    end.registration = slot;
    return;
  }
  FUZZ_CHECK(false, "the driver took more registrations than its capacity");
}

void deregister(Harness& harness, ModelRegistration* registration) {
  if (registration == nullptr) {
    if (harness.removed.io == nullptr) return;
    FUZZ_CHECK(harness.driver->handle().deregister(harness.removed) == emio::Error::stale_token,
               "a registration removed before was removed again");
    return;
  }
  const emio::Error removed = harness.driver->handle().deregister(registration->registration);
  // An orphan's fd was closed first: EBADF or ENOENT, and the slot is freed all the same.
  if (registration->end >= 0) {
    FUZZ_CHECK(removed.ok(), "deregister of an open file failed");
    harness.ends[registration->end].registration = -1;
  }
  for (Probe*& probe : registration->probes) retire_probe(probe);
  harness.removed = registration->registration;
  *registration = ModelRegistration{};
}

void turn(Harness& harness) {
  FUZZ_CHECK(harness.driver->turn(0).ok(), "turn(0) failed");
  check_no_lost_event(harness);
}

void poll_ready(Harness& harness, ModelRegistration* registration, Direction direction) {
  if (registration == nullptr) return;
  Probe*& probe = registration->probes[static_cast<int>(direction)];
  if (probe == nullptr) probe = &harness.probes[harness.probes_used++];
  const emio::ReadyEvent event =
      registration->registration.io->poll_ready(direction, emio::Waker{on_probe_wake, probe});
  check_event_is_its_own(*registration, event);
  if (event.is_ready()) {
    retire_probe(probe);
  } else {
    probe->stored = true;
  }
}

void clear_waker(ModelRegistration* registration, Direction direction) {
  if (registration == nullptr) return;
  registration->registration.io->clear_waker(direction);
  retire_probe(registration->probes[static_cast<int>(direction)]);
}

// What a task does after an operation said EAGAIN: read everything, then clear what it saw.
void drain_and_clear(Harness& harness, ModelRegistration* registration) {
  if (registration == nullptr) return;
  const emio::ReadyEvent seen = registration->registration.io->readiness(Direction::read);
  if (registration->end >= 0 && harness.ends[registration->end].reads) drain(harness, registration->end);
  registration->registration.io->clear_readiness(seen);
}

void write_bytes(Harness& harness, int end_index, size_t count) {
  End& end = harness.ends[end_index];
  if (!end.reads) return;
  const size_t written = write_to(harness, end_index, count);
  end.pending_bytes += written;
  if (written > 0 && end.registration >= 0) harness.registrations[end.registration].saw_bytes = true;
}

// Closes a channel's fds without deregister, and opens new ones (the same numbers, most likely).
void reopen(Harness& harness, int channel) {
  for (int side = 0; side < 2; ++side) {
    const End& end = harness.ends[2 * channel + side];
    if (end.registration >= 0) harness.registrations[end.registration].end = -1;
  }
  open_channel(harness, channel);
}

}  // namespace

void run_step(Harness& harness, FuzzedDataProvider& input) {
  switch (input.ConsumeIntegralInRange<int>(0, 11)) {
    case 0:
      return add(harness, input.ConsumeIntegralInRange<int>(0, end_count - 1));
    case 1:
      return deregister(harness, live_registration(harness, input));
    case 2:
      return turn(harness);
    case 3:
      return harness.driver->handle().wake();
    case 4: {
      ModelRegistration* registration = live_registration(harness, input);
      return poll_ready(harness, registration, direction_from(input));
    }
    case 5: {
      ModelRegistration* registration = live_registration(harness, input);
      return clear_waker(registration, direction_from(input));
    }
    case 6:
      return drain_and_clear(harness, live_registration(harness, input));
    case 7: {
      const int end = input.ConsumeIntegralInRange<int>(0, end_count - 1);
      return write_bytes(harness, end, input.ConsumeIntegralInRange<size_t>(1, max_transfer_bytes));
    }
    case 8:
      return reopen(harness, input.ConsumeIntegralInRange<int>(0, channel_count - 1));
    case 9:
      return submit_operation(harness, input);
    case 10:
      return feed_operations(harness, input.ConsumeIntegralInRange<size_t>(1, max_transfer_bytes));
    default:
      return drain_operations(harness);
  }
}

void finish_input(Harness& harness) {
  cancel_operations(harness);
  FUZZ_CHECK(harness.driver->detach(harness.source).ok(), "detach failed with no operation in flight");
  for (ModelRegistration& registration : harness.registrations) {
    if (registration.live) deregister(harness, &registration);
  }
  FUZZ_CHECK(harness.driver->live_registrations() == 0, "registrations left after every one was removed");
  FUZZ_CHECK(harness.driver->operations_in_flight() == 0, "operations left in flight");
}

}  // namespace emio_fuzz
