// SPDX-License-Identifier: MIT
// SerialPort: a UART (or any tty) in raw mode, 8 data bits, no parity, 1 stop bit (8N1), at a chosen
// baud rate, optionally with RTS/CTS hardware flow control. Non-blocking and registered: read and write
// as with any PollFd. A pseudo-terminal (posix_openpt, socat) stands in for a board's UART in tests.
//
// Raw mode (cfmakeraw): no echo, no line editing, no CR/LF translation, no signals from ^C; VMIN=1,
// VTIME=0, so a read returns whatever arrived. CLOCAL ignores modem control lines, CREAD enables the
// receiver. A USB adapter unplugged mid-run makes reads fail with EIO (or return 0); reopen it.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>
#include <utility>

#include "emio/driver/handle.h"
#include "emio/port/result.h"
#include "emio/runtime/poll_fd.h"

namespace emio {

enum class FlowControl : uint8_t { none, rts_cts };

class SerialPort : public IoResource {
 public:
  SerialPort() = default;

  // open(path, O_RDWR | O_NOCTTY | O_NONBLOCK | O_CLOEXEC), configure(), register. Errors: ENOENT (no such
  // device), EACCES (not in the dialout group), EBUSY, ENOTTY (not a terminal), EINVAL (a baud rate
  // with no termios constant, see configure).
  static Result<SerialPort> open(Handle handle, const char* path, uint32_t baud_rate,
                                 FlowControl flow_control = FlowControl::none);

  // Raw 8N1 at `baud_rate` (50 to 4000000, standard values only: 9600, 115200, 921600, ...; EINVAL
  // otherwise) with `flow_control`, applied at once (TCSANOW).
  Error configure(uint32_t baud_rate, FlowControl flow_control);
  // The output baud rate the terminal reports now.
  Result<uint32_t> baud_rate() const;
  // Drops bytes received but not read and bytes written but not sent (tcflush TCIOFLUSH).
  Error discard_buffers();

  Result<size_t> try_read(std::span<std::byte> buffer) { return source_.try_read(buffer); }
  Result<size_t> try_write(std::span<const std::byte> data) { return source_.try_write(data); }
  auto read(std::span<std::byte> buffer) { return source_.read(buffer); }
  auto write(std::span<const std::byte> data) { return source_.write(data); }

 private:
  explicit SerialPort(PollFd source) : IoResource(std::move(source)) {}
};

}  // namespace emio
