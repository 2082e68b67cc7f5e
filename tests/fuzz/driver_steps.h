// SPDX-License-Identifier: MIT
// The steps of the driver fuzz target, each one call of the driver API (or one change to its fds) made on
// both the driver and the model; and the end of an input, which takes everything down again.
#pragma once

#include <fuzzer/FuzzedDataProvider.h>

#include "fuzz/driver_harness.h"

namespace emio_fuzz {

void run_step(Harness& harness, FuzzedDataProvider& input);
// Cancels and completes every operation, detaches the source, deregisters everything; checks all went.
void finish_input(Harness& harness);

}  // namespace emio_fuzz
