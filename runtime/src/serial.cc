// SPDX-License-Identifier: MIT
#include "emio/runtime/serial.h"

#include <fcntl.h>
#include <termios.h>
#include <unistd.h>

#include <cerrno>

#if defined(__linux__)
#include "serial_linux.h"
#endif

#if defined(__APPLE__)
#include <sys/ioctl.h>
// From <IOKit/serial/ioss.h>, which only Apple's SDK ships: the ioctl that sets any rate on macOS,
// whose termios knows no constant above B230400.
#if !defined(IOSSIOSPEED)
#define IOSSIOSPEED _IOW('T', 2, speed_t)
#endif
#endif

namespace emio {
namespace {

#if defined(__APPLE__)
constexpr uint32_t highest_termios_rate = 230400;
#endif

struct BaudRate {
  uint32_t bits_per_second;
  speed_t constant;
};

// termios takes speed constants, not numbers; these are the ones Linux and the BSDs share, plus Linux's
// high rates that USB adapters and SoC UARTs use (macOS reaches those through IOSSIOSPEED).
constexpr BaudRate baud_rates[] = {
    {50, B50},           {75, B75},           {110, B110},         {134, B134},         {150, B150},
    {200, B200},         {300, B300},         {600, B600},         {1200, B1200},       {1800, B1800},
    {2400, B2400},       {4800, B4800},       {9600, B9600},       {19200, B19200},     {38400, B38400},
    {57600, B57600},     {115200, B115200},   {230400, B230400},
#if defined(B460800)
    {460800, B460800},   {500000, B500000},   {576000, B576000},   {921600, B921600},   {1000000, B1000000},
    {1152000, B1152000}, {1500000, B1500000}, {2000000, B2000000}, {2500000, B2500000}, {3000000, B3000000},
    {3500000, B3500000}, {4000000, B4000000},
#endif
};

bool speed_constant(uint32_t bits_per_second, speed_t& constant) {
  for (const BaudRate& rate : baud_rates) {
    if (rate.bits_per_second == bits_per_second) {
      constant = rate.constant;
      return true;
    }
  }
  return false;
}

// The c_cflag bits of the framing, which configure sets and checks that the device kept.
constexpr tcflag_t framing_bits = CSIZE | PARENB | PARODD | CSTOPB | CRTSCTS;

bool framing_flags(const SerialSettings& settings, tcflag_t& flags) {
  constexpr tcflag_t data_bits_flags[] = {CS5, CS6, CS7, CS8};
  if (settings.data_bits < 5 || settings.data_bits > 8) return false;
  if (settings.stop_bits != 1 && settings.stop_bits != 2) return false;
  if (settings.parity > Parity::odd) return false;
  flags = data_bits_flags[settings.data_bits - 5];
  if (settings.parity != Parity::none) flags |= PARENB;
  if (settings.parity == Parity::odd) flags |= PARODD;
  if (settings.stop_bits == 2) flags |= CSTOPB;
  if (settings.flow_control == FlowControl::rts_cts) flags |= CRTSCTS;
  return true;
}

// Where a rate with no termios constant goes: termios2 on Linux, IOSSIOSPEED on macOS (after
// tcsetattr, which needs a valid constant: B230400 stands in, as B38400 does for termios2).
enum class RatePath : uint8_t { constant, any_rate };

Error choose_speed(uint32_t baud_rate, speed_t& speed, RatePath& path) {
  if (baud_rate == 0 || baud_rate > SerialSettings::max_baud_rate) return Error::from_errno(EINVAL);
  path = RatePath::constant;
  if (speed_constant(baud_rate, speed)) return Error{};
#if defined(__linux__)
  speed = B38400;
#elif defined(__APPLE__)
  if (baud_rate <= highest_termios_rate) return Error::from_errno(EINVAL);
  speed = B230400;
#else
  return Error::from_errno(EINVAL);
#endif
  path = RatePath::any_rate;
  return Error{};
}

Error set_any_rate(int fd, uint32_t baud_rate) {
#if defined(__linux__)
  return detail::set_any_baud_rate(fd, baud_rate);
#elif defined(__APPLE__)
  speed_t exact = baud_rate;
  if (::ioctl(fd, IOSSIOSPEED, &exact) < 0) return Error::last_os_error();
  return Error{};
#else
  (void)fd;
  (void)baud_rate;
  return Error::from_errno(EINVAL);
#endif
}

Error set_rs485(int fd, const Rs485Settings& rs485) {
  if (!rs485.enabled) return Error{};
#if defined(__linux__)
  return detail::set_rs485(fd, rs485);
#else
  (void)fd;
  return Error::from_errno(ENOTSUP);
#endif
}

// tcsetattr, then the check that the device kept the framing asked for. POSIX: tcsetattr succeeds if
// any change was made, and EINVAL means a value the device does not support (our values are valid).
Error apply(int fd, const termios& wanted) {
  if (::tcsetattr(fd, TCSANOW, &wanted) < 0) {
    return errno == EINVAL ? Error::from_errno(ENOTSUP) : Error::last_os_error();
  }
  termios kept{};
  if (::tcgetattr(fd, &kept) < 0) return Error::last_os_error();
  if ((kept.c_cflag & framing_bits) != (wanted.c_cflag & framing_bits)) return Error::from_errno(ENOTSUP);
  return Error{};
}

}  // namespace

Result<SerialPort> SerialPort::open(Handle handle, const char* path, uint32_t baud_rate, FlowControl flow_control) {
  SerialSettings settings;
  settings.baud_rate = baud_rate;
  settings.flow_control = flow_control;
  return open(handle, path, settings);
}

Result<SerialPort> SerialPort::open(Handle handle, const char* path, const SerialSettings& settings) {
  // O_NOCTTY: a daemon without a controlling terminal must not acquire the UART as one.
  const int fd = ::open(path, O_RDWR | O_NOCTTY | O_NONBLOCK | O_CLOEXEC);
  if (fd < 0) return Error::last_os_error();
  Fd owned(fd);
  if (::isatty(owned.get()) == 0) return Error::from_errno(ENOTTY);
  Result<PollFd> source = PollFd::adopt(handle, std::move(owned), Interest::readable | Interest::writable);
  if (!source.ok()) return source.error();
  SerialPort port(std::move(source.value()));
  if (Error error = port.configure(settings); error.failed()) return error;
  return port;
}

Error SerialPort::configure(const SerialSettings& settings) { return configure_tty(fd(), settings); }

Error configure_tty(int fd, const SerialSettings& settings) {
  tcflag_t framing = 0;
  if (!framing_flags(settings, framing)) return Error::from_errno(EINVAL);
  speed_t speed = 0;
  RatePath rate_path = RatePath::constant;
  if (Error error = choose_speed(settings.baud_rate, speed, rate_path); error.failed()) return error;
  termios wanted{};
  if (::tcgetattr(fd, &wanted) < 0) return Error::last_os_error();
  ::cfmakeraw(&wanted);  // no echo, no line discipline processing
  wanted.c_cflag &= ~framing_bits;
  wanted.c_cflag |= framing | CLOCAL | CREAD;
  wanted.c_cc[VMIN] = 1;
  wanted.c_cc[VTIME] = 0;
  if (::cfsetispeed(&wanted, speed) < 0 || ::cfsetospeed(&wanted, speed) < 0) return Error::last_os_error();
  if (Error error = apply(fd, wanted); error.failed()) return error;
  if (rate_path == RatePath::any_rate) {
    if (Error error = set_any_rate(fd, settings.baud_rate); error.failed()) return error;
  }
  return set_rs485(fd, settings.rs485);
}

namespace {

// The rate named by the termios constant tcgetattr reports.
Result<uint32_t> constant_baud_rate(int fd) {
  termios settings{};
  if (::tcgetattr(fd, &settings) < 0) return Error::last_os_error();
  const speed_t speed = ::cfgetospeed(&settings);
#if defined(__APPLE__)
  // Darwin's speed_t is the rate itself (B9600 == 9600), a rate set through IOSSIOSPEED included.
  if (speed > highest_termios_rate) return static_cast<uint32_t>(speed);
#endif
  for (const BaudRate& rate : baud_rates) {
    if (rate.constant == speed) return rate.bits_per_second;
  }
  return Error::from_errno(EINVAL);
}

}  // namespace

Result<uint32_t> SerialPort::baud_rate() const {
#if defined(__linux__)
  // The kernel fills c_ospeed for constants and BOTHER alike; without termios2 (qemu-user) only a
  // constant can have been set.
  Result<uint32_t> rate = detail::any_baud_rate(fd());
  if (rate.ok() || rate.error() != Error::from_errno(ENOTSUP)) return rate;
#endif
  return constant_baud_rate(fd());
}

Error SerialPort::discard_buffers() {
  if (::tcflush(fd(), TCIOFLUSH) < 0) return Error::last_os_error();
  discard_received();  // on the ring, bytes received may wait in the port's record, past tcflush's reach
  return Error{};
}

}  // namespace emio
