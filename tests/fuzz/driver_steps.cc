// SPDX-License-Identifier: MIT
#include "fuzz/driver_steps.h"

#include <cerrno>

#include "fuzz/driver_checks.h"
#include "fuzz/driver_operations.h"
#include "fuzz/fuzz_check.h"

namespace emio_fuzz {
namespace {

using emio::Direction;

int chosen_slot(FuzzedDataProvider& input) { return input.ConsumeIntegralInRange<int>(0, driver_capacity - 1); }

ModelRegistration* live_at(Harness& harness, int slot) {
  ModelRegistration& registration = harness.registrations[slot];
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

// True when it stored the waker (not ready).
bool poll_ready(Harness& harness, ModelRegistration* registration, Direction direction) {
  if (registration == nullptr) return false;
  Probe*& probe = registration->probes[static_cast<int>(direction)];
  if (probe == nullptr) probe = &harness.probes[harness.probes_used++];
  const emio::ReadyEvent event =
      registration->registration.io->poll_ready(direction, emio::Waker{on_probe_wake, probe});
  check_event_is_its_own(*registration, event);
  if (event.is_ready()) {
    retire_probe(probe);
    return false;
  }
  probe->stored = true;
  return true;
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
  StepTrace& trace = *harness.trace;
  switch (input.ConsumeIntegralInRange<int>(0, 11)) {
    case 0: {
      const int end = input.ConsumeIntegralInRange<int>(0, end_count - 1);
      add(harness, end);
      return trace.record(Step::add, harness.ends[end].registration, end, harness.ends[end].pending_bytes);
    }
    case 1: {
      const int slot = chosen_slot(input);
      const int end = harness.registrations[slot].end;
      deregister(harness, live_at(harness, slot));
      return trace.record(Step::deregister, slot, end, harness.driver->live_registrations());
    }
    case 2:
      trace.record(Step::turn, -1, 0, 0);  // before: check_no_lost_event fails inside it
      return turn(harness);
    case 3:
      harness.driver->handle().wake();
      return trace.record(Step::wake, -1, 0, 0);
    case 4: {
      const int slot = chosen_slot(input);
      const Direction direction = direction_from(input);
      const bool stored = poll_ready(harness, live_at(harness, slot), direction);
      return trace.record(Step::poll_ready, slot, static_cast<int>(direction), stored ? 1 : 0);
    }
    case 5: {
      const int slot = chosen_slot(input);
      const Direction direction = direction_from(input);
      clear_waker(live_at(harness, slot), direction);
      return trace.record(Step::clear_waker, slot, static_cast<int>(direction), 0);
    }
    case 6: {
      const int slot = chosen_slot(input);
      const int end = harness.registrations[slot].end;
      drain_and_clear(harness, live_at(harness, slot));
      return trace.record(Step::drain_and_clear, slot, end, end >= 0 ? harness.ends[end].pending_bytes : -1);
    }
    case 7: {
      const int end = input.ConsumeIntegralInRange<int>(0, end_count - 1);
      write_bytes(harness, end, input.ConsumeIntegralInRange<size_t>(1, max_transfer_bytes));
      return trace.record(Step::write, harness.ends[end].registration, end, harness.ends[end].pending_bytes);
    }
    case 8: {
      const int channel = input.ConsumeIntegralInRange<int>(0, channel_count - 1);
      reopen(harness, channel);
      return trace.record(Step::reopen, -1, channel, harness.ends[2 * channel].fd.get());
    }
    case 9:
      submit_operation(harness, input);
      return trace.record(Step::submit, -1, 0, harness.driver->operations_in_flight());
    case 10: {
      const auto count = input.ConsumeIntegralInRange<size_t>(1, max_transfer_bytes);
      feed_operations(harness, count);
      return trace.record(Step::feed_operations, -1, static_cast<int>(count), 0);
    }
    default:
      drain_operations(harness);
      return trace.record(Step::drain_operations, -1, 0, 0);
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
