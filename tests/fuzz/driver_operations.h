// SPDX-License-Identifier: MIT
// The driver fuzz target's completion operations: recv (two records, one direction), send, timeout and
// cancel on one socket pair, with the outcome of each submit predicted from the model and every
// completion checked: exactly once, a result its kind may have, bytes in sequence.
#pragma once

#include <fuzzer/FuzzedDataProvider.h>

#include "fuzz/driver_harness.h"

namespace emio_fuzz {

void submit_operation(Harness& harness, FuzzedDataProvider& input);
// Cancels whatever is in flight and turns until every operation completed.
void cancel_operations(Harness& harness);

}  // namespace emio_fuzz
