// SPDX-License-Identifier: MIT
// LineReader: lines from a byte stream (TcpStream, UnixStream), bounded by a buffer the caller gives, for
// the line protocols daemons speak (AT commands, NMEA, a debug console). No allocation: a line that does
// not fit the buffer with its terminator ("\n" or "\r\n", so up to size - 1 or size - 2 characters) is an
// error (EMSGSIZE, and that line is dropped up to its end), never a reallocation. An empty buffer makes
// every next() fail with EINVAL.
//
//   char storage[256];
//   emio::LineReader lines(storage);
//   for (;;) {
//     emio::Result<std::string_view> line = co_await lines.next(stream);
//     if (!line.ok()) break;  // end_of_stream, line_too_long, or the stream's error
//     ...                     // line.value() excludes "\n" and a "\r" before it; valid until next()
//   }
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <string_view>

#include "emio/port/result.h"
#include "emio/runtime/errors.h"
#include "emio/runtime/stream.h"

namespace emio {

// The peer closed the stream and no partial line is left.
inline constexpr Error end_of_stream = Error::from_errno(ENODATA);
// A line did not fit the LineReader's buffer.
inline constexpr Error line_too_long = Error::from_errno(EMSGSIZE);

class LineReader {
 public:
  explicit LineReader(std::span<char> buffer) : buffer_(buffer) {}

  // Awaitable, Result<std::string_view>: the next line of `stream`.
  auto next(StreamSocket& stream);

  enum class Buffered : uint8_t { line, too_long, needs_bytes, no_buffer };
  // What the buffer holds now, for the awaitable (and the fuzz target, tests/fuzz): a complete line, taken
  // out into *line; a line that does not fit (reported once, then dropped up to its "\n"); neither,
  // until more bytes are read into free_space(); or no_buffer for an empty buffer, which holds nothing.
  Buffered next_buffered(std::string_view* line);
  // Room after the buffered bytes (the buffer is compacted first); empty when a line fills it.
  std::span<std::byte> free_space();
  // Accounts for `count` bytes read into free_space().
  void commit(size_t count) { end_ += count; }
  // At end of stream: the last line if it had no "\n", else false.
  bool take_unterminated_line(std::string_view* line);

 private:
  // A complete line already buffered, taken out. False when none is.
  bool take_line(std::string_view* line);
  // The line that did not fit: dropped, and the rest of it up to its "\n" will be too.
  void drop_overlong_line();

  std::span<char> buffer_;
  size_t start_ = 0;       // first byte not yet returned
  size_t end_ = 0;         // one past the last byte read
  bool dropping_ = false;  // inside a line that was too long: skip to its end
};

// The awaitable of LineReader::next.
class [[nodiscard]] LineOp {
 public:
  using Output = Result<std::string_view>;
  LineOp(LineReader& reader, StreamSocket& stream) : reader_(&reader), stream_(&stream) {}
  LineOp(LineOp&& other) noexcept : reader_(other.reader_), stream_(other.stream_), read_(std::move(other.read_)) {}

  bool poll(PollContext& context);
  Output take_output() const { return error_.failed() ? Output(error_) : Output(line_); }
  void cancel() {
    if (read_) read_->cancel();
  }

  // Reads one poll makes before it yields to the other tasks (see poll).
  static constexpr uint32_t max_reads_per_poll = 8;

 private:
  // The read of more bytes in progress. It is the stream's own read(), so that on a native stream the
  // bytes a read() left in the stream's record come first (review defect 6: try_read skipped them), and
  // readiness behaves as before.
  bool poll_read(PollContext& context, std::optional<Result<size_t>>& got);

  LineReader* reader_;
  StreamSocket* stream_;
  std::optional<StreamTransferOp> read_;
  std::string_view line_;
  Error error_;
};

inline auto LineReader::next(StreamSocket& stream) { return LineOp(*this, stream); }

}  // namespace emio
