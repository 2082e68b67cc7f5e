// SPDX-License-Identifier: MIT
#include "serial_linux.h"

#include <asm/ioctls.h>  // TCGETS2 and TCSETS2: glibc's <sys/ioctl.h> includes it, musl's does not
#include <asm/termbits.h>
#include <linux/serial.h>
#include <sys/ioctl.h>

#include <cerrno>

namespace emio::detail {
namespace {

// Every kernel since 2.6.20 has termios2 and TIOCSRS485 is routed to the tty driver; ENOSYS comes from
// qemu-user, which answers it for ioctls it does not translate (TCGETS2, TCSETS2, TIOCSRS485 in 7.2).
Error ioctl_error() { return errno == ENOSYS ? Error::from_errno(ENOTSUP) : Error::last_os_error(); }

}  // namespace

Error set_any_baud_rate(int fd, uint32_t bits_per_second) {
  termios2 settings{};
  if (::ioctl(fd, TCGETS2, &settings) < 0) return ioctl_error();
  // BOTHER in both the output and the input rate field: the driver takes c_ospeed/c_ispeed as numbers.
  settings.c_cflag &= ~static_cast<tcflag_t>(CBAUD | (CBAUD << IBSHIFT));
  settings.c_cflag |= BOTHER | (BOTHER << IBSHIFT);
  settings.c_ospeed = bits_per_second;
  settings.c_ispeed = bits_per_second;
  if (::ioctl(fd, TCSETS2, &settings) < 0) return ioctl_error();
  return Error{};
}

Result<uint32_t> any_baud_rate(int fd) {
  termios2 settings{};
  if (::ioctl(fd, TCGETS2, &settings) < 0) return ioctl_error();
  return static_cast<uint32_t>(settings.c_ospeed);
}

Error set_rs485(int fd, const Rs485Settings& settings) {
  serial_rs485 rs485{};
  rs485.flags = SER_RS485_ENABLED;
  rs485.flags |= settings.rts_high_while_sending ? SER_RS485_RTS_ON_SEND : SER_RS485_RTS_AFTER_SEND;
  rs485.delay_rts_before_send = settings.delay_before_send_ms;
  rs485.delay_rts_after_send = settings.delay_after_send_ms;
  if (::ioctl(fd, TIOCSRS485, &rs485) == 0) return Error{};
  // tty_ioctl answers ENOTTY when the driver has no rs485_config (a pty, a USB adapter without it).
  if (errno == ENOTTY) return Error::from_errno(ENOTSUP);
  return ioctl_error();
}

}  // namespace emio::detail
