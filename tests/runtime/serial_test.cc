// SPDX-License-Identifier: MIT
// SerialPort on a pseudo-terminal, which stands in for a board's UART: the port opens the pty's slave
// side, the test plays the device on the master side.
#include <fcntl.h>
#include <stdlib.h>
#include <termios.h>
#include <unistd.h>

#include <cstring>

#include "emio/runtime/runtime.h"
#include "runtime/runtime_fixture.h"
#include "support/check.h"

using emio::Error;
using emio::FlowControl;
using emio::Result;
using emio::SerialPort;

namespace {

emio::Task<> read_some(SerialPort& port, char* received, Error& outcome) {
  Result<size_t> got = co_await port.read(std::as_writable_bytes(std::span(received, 15)));
  outcome = got.ok() ? Error{} : got.error();
}

}  // namespace

TEST_GROUP(Serial) {
  emio::Executor executor;
  emio::Fd device;  // the pty master: the far end of the "UART"
  char path[64] = {};
  SerialPort port;
  void setup() override {
    CHECK_OK(executor.init(emio_test::executor_config(2)));
    device = emio::Fd(::posix_openpt(O_RDWR | O_NOCTTY | O_NONBLOCK | O_CLOEXEC));
    CHECK(device.valid());
    CHECK_EQUAL(0, ::grantpt(device.get()));
    CHECK_EQUAL(0, ::unlockpt(device.get()));
    CHECK_EQUAL(0, ::ptsname_r(device.get(), path, sizeof path));
    port = REQUIRE_TAKE(SerialPort::open(executor.handle(), path, 115200));
  }
  termios settings() {
    termios current{};
    CHECK_EQUAL(0, ::tcgetattr(port.fd(), &current));
    return current;
  }
  size_t read_device(char* buffer, size_t size) {
    for (int attempt = 0; attempt < 1000; ++attempt) {
      const ssize_t got = ::read(device.get(), buffer, size);
      if (got > 0) return static_cast<size_t>(got);
      CHECK_OK(executor.run_once(10));
    }
    return 0;
  }
};

TEST(Serial, OpenSetsTheBaudRate) { CHECK_EQUAL(115200u, REQUIRE_VALUE(port.baud_rate())); }

TEST(Serial, ConfigureChangesTheBaudRate) {
  CHECK_OK(port.configure(9600, FlowControl::none));
  CHECK_EQUAL(9600u, REQUIRE_VALUE(port.baud_rate()));
}

TEST(Serial, OpenSelectsEightDataBitsNoParityOneStopBit) {
  const termios current = settings();
  CHECK_EQUAL(static_cast<tcflag_t>(CS8), current.c_cflag & CSIZE);
  CHECK_EQUAL(0u, current.c_cflag & PARENB);
  CHECK_EQUAL(0u, current.c_cflag & CSTOPB);
}

TEST(Serial, OpenPutsTheTerminalInRawMode) {
  const termios current = settings();
  CHECK_EQUAL(0u, current.c_lflag & (ICANON | ECHO | ISIG));
  CHECK_EQUAL(0u, current.c_iflag & (ICRNL | IXON));
  CHECK_EQUAL(0u, current.c_oflag & OPOST);
}

TEST(Serial, RtsCtsFlowControlIsSelected) {
  CHECK_OK(port.configure(115200, FlowControl::rts_cts));
  CHECK(settings().c_cflag & CRTSCTS);
}

TEST(Serial, NoFlowControlClearsRtsCts) {
  CHECK_OK(port.configure(115200, FlowControl::rts_cts));
  CHECK_OK(port.configure(115200, FlowControl::none));
  CHECK_EQUAL(0u, settings().c_cflag & CRTSCTS);
}

TEST(Serial, UnsupportedBaudRateIsRefused) {
  CHECK_ERROR(emio::Error::from_errno(EINVAL), port.configure(12345, FlowControl::none));
}

TEST(Serial, BytesFromTheDeviceArriveOnThePort) {
  char received[16] = {};
  Error outcome = Error::shut_down;
  Result<emio::TaskId> task = executor.spawn(read_some(port, received, outcome));
  CHECK_OK(executor.run_once(0));
  CHECK_EQUAL(5, ::write(device.get(), "uart\r", 5));
  emio_test::run_to_completion(executor, task);
  CHECK_OK(outcome);
  STRCMP_EQUAL("uart\r", received);  // raw: the carriage return is not translated
}

TEST(Serial, BytesWrittenToThePortReachTheDevice) {
  CHECK_EQUAL(3u, REQUIRE_VALUE(port.try_write(emio_test::bytes_of("at\n"))));
  char received[8] = {};
  CHECK_EQUAL(3u, read_device(received, sizeof received - 1));
  STRCMP_EQUAL("at\n", received);  // raw: no CR inserted before the newline
}

TEST(Serial, MissingDeviceIsRefused) {
  CHECK_ERROR(emio::Error::from_errno(ENOENT),
              SerialPort::open(executor.handle(), "/dev/emio-no-such-tty", 9600).error());
}

TEST(Serial, NonTerminalIsRefused) {
  CHECK_ERROR(emio::Error::from_errno(ENOTTY), SerialPort::open(executor.handle(), "/dev/null", 9600).error());
}
