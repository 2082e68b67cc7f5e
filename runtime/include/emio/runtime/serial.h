// SPDX-License-Identifier: MIT
// SerialPort: a UART (or any tty) in raw mode with the framing of SerialSettings (8N1 unless told
// otherwise: 5 to 8 data bits, no/even/odd parity, 1 or 2 stop bits), at any baud rate the driver takes,
// optionally with RTS/CTS hardware flow control or RS-485 half duplex. Non-blocking and registered: a
// byte stream (read(2)/write(2)) whose awaits go through the ring where TcpStream's do (native_stream.h),
// else through readiness. A pseudo-terminal (posix_openpt, socat) stands in for a board's UART in
// tests.
//
// Raw mode (cfmakeraw): no echo, no line editing, no CR/LF translation, no signals from ^C; VMIN=1,
// VTIME=0, so a read returns whatever arrived. CLOCAL ignores modem control lines, CREAD enables the
// receiver. A USB adapter unplugged mid-run makes reads fail with EIO (or return 0); reopen it.
//
// Errors of the settings: EINVAL for a value out of range (9 data bits, 3 stop bits, a zero rate);
// ENOTSUP for a valid setting this device cannot take: a pseudo-terminal keeps CS8 and no parity
// whatever it is told, and a UART driver without RS-485 support refuses TIOCSRS485 (ENOTTY from the
// kernel, reported as ENOTSUP so that it is not mistaken for "not a terminal").
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>
#include <utility>

#include "emio/driver/handle.h"
#include "emio/port/result.h"
#include "emio/runtime/stream.h"

namespace emio {

enum class FlowControl : uint8_t { none, rts_cts };
enum class Parity : uint8_t { none, even, odd };

// RS-485 half duplex done by the UART driver (TIOCSRS485, linux/serial.h): it drives RTS as the
// transceiver's driver-enable around each transmission. Linux only (ENOTSUP elsewhere).
struct Rs485Settings {
  bool enabled = false;                // false leaves the driver's RS-485 mode as it is (a device tree may enable it)
  bool rts_high_while_sending = true;  // the driver-enable polarity: RTS high while sending, low after
  uint32_t delay_before_send_ms = 0;   // RTS asserted this long before the first bit
  uint32_t delay_after_send_ms = 0;    // and kept this long after the last
};

struct SerialSettings {
  // Standard rates through termios constants (9600, 115200, 921600, ...); any other rate up to
  // max_baud_rate through termios2 with BOTHER on Linux (IOSSIOSPEED on macOS), which the driver
  // approximates with its divisors: baud_rate() says what it got.
  static constexpr uint32_t max_baud_rate = 16000000;
  uint32_t baud_rate = 115200;
  uint8_t data_bits = 8;  // 5 to 8
  Parity parity = Parity::none;
  uint8_t stop_bits = 1;  // 1 or 2
  FlowControl flow_control = FlowControl::none;
  Rs485Settings rs485;
};

class SerialPort : public ByteStream {
 public:
  SerialPort() = default;

  // open(path, O_RDWR | O_NOCTTY | O_NONBLOCK | O_CLOEXEC), register, configure(settings). Errors: ENOENT
  // (no such device), EACCES (not in the dialout group), EBUSY, ENOTTY (not a terminal), and those of
  // configure.
  static Result<SerialPort> open(Handle handle, const char* path, const SerialSettings& settings);
  // 8N1 at `baud_rate`, with `flow_control`.
  static Result<SerialPort> open(Handle handle, const char* path, uint32_t baud_rate,
                                 FlowControl flow_control = FlowControl::none);

  // Raw mode with `settings`, applied at once (TCSANOW) and read back: a device that kept other
  // framing is ENOTSUP (tcsetattr succeeds when any change was made, POSIX). Errors: EINVAL for a
  // value out of range, ENOTSUP (see above), the OS's. Pending reads and writes go on.
  Error configure(const SerialSettings& settings);
  // The output baud rate the terminal reports now (a non-standard one included).
  Result<uint32_t> baud_rate() const;
  // Drops bytes received but not read and bytes written but not sent (tcflush TCIOFLUSH), and on the
  // ring the bytes a receive left in the port's record. On the ring a write returns before its bytes
  // reach the tty (written behind, native_stream.h): those of a write just before are not dropped.
  Error discard_buffers();

 private:
  // Raw mode, VMIN=1: a byte stream, where a short read means the input queue is empty.
  explicit SerialPort(PollFd source) : ByteStream(std::move(source), ByteTransfer::file) {}
};

// SerialPort::configure for a tty opened some other way and held as a plain fd (the C API's streams).
// ENOTTY for a descriptor that is no terminal (a socket).
Error configure_tty(int fd, const SerialSettings& settings);

}  // namespace emio
