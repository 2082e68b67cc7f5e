// SPDX-License-Identifier: MIT
// Marks the steady-state loop for callgrind, so that instructions per event leave out setup, warm-up
// and the report. Run under `valgrind --tool=callgrind --collect-atstart=no`; natively the client
// requests are a few no-op instructions.
#pragma once

#include <valgrind/callgrind.h>

namespace emio_bench {

inline void begin_measured_region() { CALLGRIND_TOGGLE_COLLECT; }
inline void end_measured_region() { CALLGRIND_TOGGLE_COLLECT; }

}  // namespace emio_bench
