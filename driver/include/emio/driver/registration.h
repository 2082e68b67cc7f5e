// SPDX-License-Identifier: MIT
// What add_source hands back: the token that names the registration, and the ScheduledIo that tasks
// poll. Copyable, two words; the ScheduledIo lives in the driver's arena for the driver's whole life.
#pragma once

#include "emio/alloc/token.h"
#include "emio/driver/scheduled_io.h"

namespace emio {

struct Registration {
  Token token;
  ScheduledIo* io = nullptr;
};

}  // namespace emio
