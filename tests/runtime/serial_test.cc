// SPDX-License-Identifier: MIT
// SerialPort on a pseudo-terminal, which stands in for a board's UART: the port opens the pty's slave
// side, the test plays the device on the master side.
#include <fcntl.h>
#include <stdlib.h>
#include <termios.h>
#include <unistd.h>

#include <cstring>

#include "emio/runtime/runtime.h"
#include "runtime/byte_stream_tasks.h"
#include "runtime/runtime_fixture.h"
#include "support/check.h"

using emio::Error;
using emio::FlowControl;
using emio::Parity;
using emio::Result;
using emio::SerialPort;
using emio::SerialSettings;

namespace {

SerialSettings at_rate(uint32_t baud_rate, FlowControl flow_control = FlowControl::none) {
  SerialSettings settings;
  settings.baud_rate = baud_rate;
  settings.flow_control = flow_control;
  return settings;
}

SerialSettings with_data_bits(uint8_t data_bits) {
  SerialSettings settings;
  settings.data_bits = data_bits;
  return settings;
}

SerialSettings with_stop_bits(uint8_t stop_bits) {
  SerialSettings settings;
  settings.stop_bits = stop_bits;
  return settings;
}

emio::Task<> read_some(SerialPort& port, char* received, Error& outcome) {
  Result<size_t> got = co_await port.read(std::as_writable_bytes(std::span(received, 15)));
  outcome = got.ok() ? Error{} : got.error();
}

emio::Task<> read_into(SerialPort& port, std::span<char> buffer, std::optional<Result<size_t>>& outcome) {
  outcome.emplace(co_await port.read(buffer));
}

emio::Task<> read_with_timeout(SerialPort& port, uint32_t timeout_ms, Error& outcome) {
  std::byte buffer[16];
  Result<size_t> got = co_await emio::with_timeout(timeout_ms, port.read(buffer));
  outcome = got.ok() ? Error{} : got.error();
}

emio::Task<> write_text(SerialPort& port, std::string_view text, Error& outcome) {
  Result<size_t> wrote = co_await port.write(text);
  outcome = !wrote.ok() ? wrote.error() : wrote.value() == text.size() ? Error{} : Error::from_errno(EIO);
}

// A pseudo-terminal's master side (`device`), and the path of its slave side, which the port opens.
void open_pty(emio::Fd& device, char (&path)[64]) {
  device = emio::Fd(::posix_openpt(O_RDWR | O_NOCTTY | O_NONBLOCK | O_CLOEXEC));
  CHECK(device.valid());
  CHECK_EQUAL(0, ::grantpt(device.get()));
  CHECK_EQUAL(0, ::unlockpt(device.get()));
  CHECK_EQUAL(0, ::ptsname_r(device.get(), path, sizeof path));
}

// An awaited read on the port gets what the device sent.
void check_bytes_from_the_device_arrive(emio::Executor& executor, SerialPort& port, const emio::Fd& device) {
  char received[16] = {};
  Error outcome = Error::shut_down;
  Result<emio::TaskId> task = executor.spawn(read_some(port, received, outcome));
  CHECK_OK(executor.run_once(0));
  CHECK_EQUAL(5, ::write(device.get(), "uart\r", 5));
  emio_test::run_to_completion(executor, task);
  CHECK_OK(outcome);
  STRCMP_EQUAL("uart\r", received);  // raw: the carriage return is not translated
}

// Reads what the port sent from the device side, running `executor` meanwhile.
size_t read_device(emio::Executor& executor, const emio::Fd& device, char* buffer, size_t size) {
  for (int attempt = 0; attempt < 1000; ++attempt) {
    const ssize_t got = ::read(device.get(), buffer, size);
    if (got > 0) return static_cast<size_t>(got);
    CHECK_OK(executor.run_once(10));
  }
  return 0;
}

}  // namespace

TEST_GROUP(Serial) {
  emio::Executor executor;
  emio::Fd device;  // the pty master: the far end of the "UART"
  char path[64] = {};
  SerialPort port;
  void setup() override {
    CHECK_OK(executor.init(emio_test::executor_config(2)));
    open_pty(device, path);
    port = REQUIRE_TAKE(SerialPort::open(executor.handle(), path, 115200));
  }
  termios settings() {
    termios current{};
    CHECK_EQUAL(0, ::tcgetattr(port.fd(), &current));
    return current;
  }
  size_t read_device(char* buffer, size_t size) { return ::read_device(executor, device, buffer, size); }
};

TEST(Serial, OpenSetsTheBaudRate) { CHECK_EQUAL(115200u, REQUIRE_VALUE(port.baud_rate())); }

TEST(Serial, ConfigureChangesTheBaudRate) {
  CHECK_OK(port.configure(at_rate(9600)));
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
  CHECK_OK(port.configure(at_rate(115200, FlowControl::rts_cts)));
  CHECK(settings().c_cflag & CRTSCTS);
}

TEST(Serial, NoFlowControlClearsRtsCts) {
  CHECK_OK(port.configure(at_rate(115200, FlowControl::rts_cts)));
  CHECK_OK(port.configure(at_rate(115200)));
  CHECK_EQUAL(0u, settings().c_cflag & CRTSCTS);
}

TEST(Serial, NonStandardBaudRateIsSetThroughTermios2) {
#if defined(EMIO_TEST_UNDER_QEMU)
  // qemu-user translates no termios2 ioctl: the port says so instead of setting another rate.
  CHECK_ERROR(Error::from_errno(ENOTSUP), port.configure(at_rate(250000)));
#else
  CHECK_OK(port.configure(at_rate(250000)));  // DMX512's rate: no termios constant
  CHECK_EQUAL(250000u, REQUIRE_VALUE(port.baud_rate()));
#endif
}

TEST(Serial, ZeroBaudRateIsRefused) { CHECK_ERROR(Error::from_errno(EINVAL), port.configure(at_rate(0))); }

TEST(Serial, BaudRateAboveTheMaximumIsRefused) {
  CHECK_ERROR(Error::from_errno(EINVAL), port.configure(at_rate(SerialSettings::max_baud_rate + 1)));
}

TEST(Serial, TwoStopBitsAreSelected) {
  CHECK_OK(port.configure(with_stop_bits(2)));
  CHECK(settings().c_cflag & CSTOPB);
}

TEST(Serial, DataBitsOutOfRangeAreRefused) {
  CHECK_ERROR(Error::from_errno(EINVAL), port.configure(with_data_bits(9)));
}

TEST(Serial, StopBitsOutOfRangeAreRefused) {
  CHECK_ERROR(Error::from_errno(EINVAL), port.configure(with_stop_bits(3)));
}

// A pty keeps CS8 and no parity whatever it is told (pty_set_termios): the port says so instead of
// running with a framing nobody asked for.
TEST(Serial, SevenDataBitsOnAPtyAreNotSupported) {
  CHECK_ERROR(Error::from_errno(ENOTSUP), port.configure(with_data_bits(7)));
}

TEST(Serial, ParityOnAPtyIsNotSupported) {
  SerialSettings settings;
  settings.parity = Parity::even;
  CHECK_ERROR(Error::from_errno(ENOTSUP), port.configure(settings));
}

// A pty has no RS-485 mode: TIOCSRS485 is refused, and the error is ENOTSUP, not "not a terminal".
TEST(Serial, Rs485OnAPtyIsNotSupported) {
  SerialSettings settings;
  settings.rs485.enabled = true;
  CHECK_ERROR(Error::from_errno(ENOTSUP), port.configure(settings));
}

TEST(Serial, RefusedSettingsLeaveThePortUsable) {
  SerialSettings settings;
  settings.rs485.enabled = true;
  CHECK_ERROR(Error::from_errno(ENOTSUP), port.configure(settings));
  CHECK_OK(port.configure(at_rate(9600)));
  CHECK_EQUAL(9600u, REQUIRE_VALUE(port.baud_rate()));
}

TEST(Serial, OpenWithSettingsAppliesThem) {
  SerialSettings settings = at_rate(57600, FlowControl::rts_cts);
  settings.stop_bits = 2;
  SerialPort opened = REQUIRE_TAKE(SerialPort::open(executor.handle(), path, settings));
  termios current{};
  CHECK_EQUAL(0, ::tcgetattr(opened.fd(), &current));
  CHECK_EQUAL(57600u, REQUIRE_VALUE(opened.baud_rate()));
  CHECK_EQUAL(static_cast<tcflag_t>(CSTOPB | CRTSCTS), current.c_cflag & (CSTOPB | CRTSCTS));
}

TEST(Serial, BytesFromTheDeviceArriveOnThePort) { check_bytes_from_the_device_arrive(executor, port, device); }

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

// configure_tty: the same settings for a tty held as a plain fd (the C API's streams).
TEST(Serial, ConfigureTtyAppliesSettingsToAPlainDescriptor) {
  CHECK_OK(emio::configure_tty(port.fd(), with_stop_bits(2)));
  CHECK(settings().c_cflag & CSTOPB);
}

TEST(Serial, ConfigureTtyRefusesADescriptorThatIsNoTerminal) {
  const emio::Fd null_device(::open("/dev/null", O_RDWR | O_CLOEXEC));
  CHECK_ERROR(Error::from_errno(ENOTTY), emio::configure_tty(null_device.get(), SerialSettings{}));
}

// With native streams configured, on io_uring, the port's awaited reads and writes go through the ring
// (read_leased and write at offset -1, as a pipe's: native_stream.h); on epoll through readiness.
TEST_GROUP(SerialOnTheRing) {
  emio::Executor executor;
  emio::Fd device;
  char path[64] = {};
  SerialPort port;
  void setup() override {
    emio::ExecutorConfig config = emio_test::executor_config(4);
    config.native_streams = {2, 64};
    CHECK_OK(executor.init(config));
    open_pty(device, path);
    port = REQUIRE_TAKE(SerialPort::open(executor.handle(), path, 115200));
  }
  // On the ring the port holds a record and its readiness registration is gone: a readiness await would
  // have ended with stale_token.
  void check_on_the_ring() {
    const bool on_the_ring = executor.driver().takes_leased_receives();
    CHECK_EQUAL(on_the_ring ? 1u : 0u, executor.native_streams().in_use());
    CHECK_EQUAL(!on_the_ring, port.registration().io != nullptr);
  }
};

TEST(SerialOnTheRing, BytesFromTheDeviceArriveThroughTheRing) {
  check_bytes_from_the_device_arrive(executor, port, device);
  check_on_the_ring();
}

TEST(SerialOnTheRing, BytesWrittenToThePortReachTheDeviceThroughTheRing) {
  Error outcome = Error::shut_down;
  Result<emio::TaskId> task = executor.spawn(write_text(port, "at\n", outcome));
  emio_test::run_to_completion(executor, task);
  CHECK_OK(outcome);
  char received[8] = {};
  CHECK_EQUAL(3u, read_device(executor, device, received, sizeof received - 1));
  STRCMP_EQUAL("at\n", received);
  check_on_the_ring();
}

TEST(SerialOnTheRing, PortClosedWithAnAbandonedReadInFlightFreesItsRecordOnceCancelled) {
  Error outcome = Error::shut_down;
  Result<emio::TaskId> task = executor.spawn(read_with_timeout(port, 10, outcome));
  emio_test::run_to_completion(executor, task);
  CHECK_ERROR(emio::timed_out, outcome);  // the read waited for bytes; abandoned, it stays in flight
  check_on_the_ring();
  CHECK_EQUAL(executor.driver().takes_leased_receives() ? 1u : 0u, executor.driver().operations_in_flight());
  CHECK_OK(port.close());
  emio_test::run_until_records_free(executor);
  CHECK_EQUAL(0u, executor.native_streams().in_use());
  CHECK_EQUAL(0u, executor.driver().operations_in_flight());
}

// discard_buffers drops what was received and not read, wherever it waits: in the tty's queue, or in the
// port's record on the ring (the leftovers of a receive that a short read left there).
TEST(SerialOnTheRing, DiscardBuffersDropsBytesReceivedButNotRead) {
  CHECK_EQUAL(5, ::write(device.get(), "stale", 5));
  char first[1] = {};
  std::optional<Result<size_t>> got;
  emio_test::run_to_completion(executor, REQUIRE_VALUE(executor.spawn(read_into(port, first, got))));
  CHECK_EQUAL(1u, REQUIRE_VALUE(*got));  // "tale" not read
  CHECK_OK(port.discard_buffers());
  CHECK_EQUAL(3, ::write(device.get(), "new", 3));
  char next[16] = {};
  emio_test::run_to_completion(executor, REQUIRE_VALUE(executor.spawn(read_into(port, next, got))));
  CHECK_EQUAL(3u, REQUIRE_VALUE(*got));
  STRCMP_EQUAL("new", next);
}
