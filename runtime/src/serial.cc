// SPDX-License-Identifier: MIT
#include "emio/runtime/serial.h"

#include <fcntl.h>
#include <termios.h>
#include <unistd.h>

#include <cerrno>

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

}  // namespace

Result<SerialPort> SerialPort::open(Handle handle, const char* path, uint32_t baud_rate, FlowControl flow_control) {
  // O_NOCTTY: a daemon without a controlling terminal must not acquire the UART as one.
  const int fd = ::open(path, O_RDWR | O_NOCTTY | O_NONBLOCK | O_CLOEXEC);
  if (fd < 0) return Error::last_os_error();
  Fd owned(fd);
  if (::isatty(owned.get()) == 0) return Error::from_errno(ENOTTY);
  Result<PollFd> source = PollFd::adopt(handle, std::move(owned), Interest::readable | Interest::writable);
  if (!source.ok()) return source.error();
  source.value().set_byte_stream(true);  // raw mode, VMIN=1: a short read means the input queue is empty
  SerialPort port(std::move(source.value()));
  if (Error error = port.configure(baud_rate, flow_control); error.failed()) return error;
  return port;
}

Error SerialPort::configure(uint32_t baud_rate, FlowControl flow_control) {
  speed_t speed = 0;
  bool through_iossiospeed = false;
  if (!speed_constant(baud_rate, speed)) {
#if defined(__APPLE__)
    // Above B230400 macOS takes the rate by IOSSIOSPEED after tcsetattr, which needs a valid constant.
    if (baud_rate <= highest_termios_rate) return Error::from_errno(EINVAL);
    speed = B230400;
    through_iossiospeed = true;
#else
    return Error::from_errno(EINVAL);
#endif
  }
  termios settings{};
  if (::tcgetattr(fd(), &settings) < 0) return Error::last_os_error();
  ::cfmakeraw(&settings);  // 8 data bits, no parity, no echo, no line discipline processing
  settings.c_cflag &= ~static_cast<tcflag_t>(CSTOPB | PARENB | CSIZE | CRTSCTS);
  settings.c_cflag |= CS8 | CLOCAL | CREAD;
  if (flow_control == FlowControl::rts_cts) settings.c_cflag |= CRTSCTS;
  settings.c_cc[VMIN] = 1;
  settings.c_cc[VTIME] = 0;
  if (::cfsetispeed(&settings, speed) < 0 || ::cfsetospeed(&settings, speed) < 0) return Error::last_os_error();
  if (::tcsetattr(fd(), TCSANOW, &settings) < 0) return Error::last_os_error();
#if defined(__APPLE__)
  if (through_iossiospeed) {
    speed_t exact = baud_rate;
    if (::ioctl(fd(), IOSSIOSPEED, &exact) < 0) return Error::last_os_error();
  }
#else
  (void)through_iossiospeed;
#endif
  return Error{};
}

Result<uint32_t> SerialPort::baud_rate() const {
  termios settings{};
  if (::tcgetattr(fd(), &settings) < 0) return Error::last_os_error();
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

Error SerialPort::discard_buffers() {
  if (::tcflush(fd(), TCIOFLUSH) < 0) return Error::last_os_error();
  return Error{};
}

}  // namespace emio
