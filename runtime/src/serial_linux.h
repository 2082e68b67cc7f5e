// SPDX-License-Identifier: MIT
// The serial settings that only Linux has, behind plain functions: termios2 (<asm/termbits.h>) cannot be
// included beside glibc's <termios.h>, whose struct termios has the same name and another layout.
#pragma once

#include <cstdint>

#include "emio/port/error.h"
#include "emio/port/result.h"
#include "emio/runtime/serial.h"

namespace emio::detail {

// Each answers ENOTSUP where the ioctl is missing (qemu-user's ENOSYS).
// Sets `bits_per_second` as both rates through termios2 with BOTHER (TCSETS2): the framing set by
// tcsetattr before is kept.
Error set_any_baud_rate(int fd, uint32_t bits_per_second);
// The output rate termios2 reports (c_ospeed), whichever way it was set.
Result<uint32_t> any_baud_rate(int fd);
// TIOCSRS485 with `settings` (enabled). ENOTSUP when the driver has no RS-485 support.
Error set_rs485(int fd, const Rs485Settings& settings);

}  // namespace emio::detail
