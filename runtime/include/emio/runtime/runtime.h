// SPDX-License-Identifier: MIT
// Everything of the runtime layer in one include. Windows has no pipes, serial ports or systemd: their
// headers are left out there (docs/developing-on-windows.md).
#pragma once

#include "emio/runtime/address.h"
#include "emio/runtime/awaitables.h"
#include "emio/runtime/completion.h"
#include "emio/runtime/datagram.h"
#include "emio/runtime/errors.h"
#include "emio/runtime/executor.h"
#include "emio/runtime/frame_pool.h"
#include "emio/runtime/io_watch.h"
#include "emio/runtime/line_reader.h"
#include "emio/runtime/poll_fd.h"
#include "emio/runtime/signals.h"
#include "emio/runtime/stream.h"
#include "emio/runtime/task.h"
#include "emio/runtime/timer.h"
#if !defined(_WIN32)
#include "emio/runtime/pipe.h"
#include "emio/runtime/serial.h"
#include "emio/runtime/systemd.h"
#endif
