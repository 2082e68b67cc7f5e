// SPDX-License-Identifier: MIT
// The invariants the driver fuzz target checks after every step (driver_fuzz.cc lists them).
#pragma once

#include "fuzz/driver_harness.h"

namespace emio_fuzz {

void check_after_step(Harness& harness);
// After a turn: every registration whose file holds bytes is reported readable, within a few more turns.
void check_no_lost_event(Harness& harness);
// A readiness the driver reported for `registration`: readable only if its file ever had bytes.
void check_event_is_its_own(const ModelRegistration& registration, const emio::ReadyEvent& event);

}  // namespace emio_fuzz
