// SPDX-License-Identifier: MIT
#include "emio/runtime/line_reader.h"

#include <cstring>

namespace emio {

bool LineReader::take_line(std::string_view* line) {
  for (;;) {
    if (start_ == end_) return false;  // also keeps a null buffer away from memchr
    const void* found = std::memchr(buffer_.data() + start_, '\n', end_ - start_);
    if (found == nullptr) return false;
    const size_t newline = static_cast<size_t>(static_cast<const char*>(found) - buffer_.data());
    const size_t line_start = start_;
    start_ = newline + 1;
    if (dropping_) {  // the end of a line that was too long: dropped with it
      dropping_ = false;
      continue;
    }
    size_t line_end = newline;
    if (line_end > line_start && buffer_[line_end - 1] == '\r') line_end -= 1;
    *line = std::string_view(buffer_.data() + line_start, line_end - line_start);
    return true;
  }
}

std::span<std::byte> LineReader::free_space() {
  if (start_ > 0) {  // compact: the returned lines are no longer needed
    std::memmove(buffer_.data(), buffer_.data() + start_, end_ - start_);
    end_ -= start_;
    start_ = 0;
  }
  return std::as_writable_bytes(buffer_.subspan(end_));
}

void LineReader::drop_overlong_line() {
  start_ = 0;
  end_ = 0;
  dropping_ = true;
}

bool LineReader::take_unterminated_line(std::string_view* line) {
  if (start_ == end_ || dropping_) return false;
  *line = std::string_view(buffer_.data() + start_, end_ - start_);
  start_ = end_;
  return true;
}

LineReader::Buffered LineReader::next_buffered(std::string_view* line) {
  if (buffer_.empty()) return Buffered::no_buffer;
  for (;;) {
    if (take_line(line)) return Buffered::line;
    if (!free_space().empty()) return Buffered::needs_bytes;
    const bool reported = dropping_;  // the same long line filled the buffer again
    drop_overlong_line();
    if (!reported) return Buffered::too_long;
  }
}

bool LineOp::poll_read(PollContext& context, std::optional<Result<size_t>>& got) {
  if (!read_) read_.emplace(stream_->read(reader_->free_space()));
  if (!read_->poll(context)) return false;
  got.emplace(read_->take_output());
  read_.reset();
  return true;
}

bool LineOp::poll(PollContext& context) {
  for (uint32_t reads = 0;; ++reads) {
    const LineReader::Buffered buffered = reader_->next_buffered(&line_);
    if (buffered == LineReader::Buffered::line) return true;
    if (buffered != LineReader::Buffered::needs_bytes) {
      error_ = buffered == LineReader::Buffered::too_long ? line_too_long : Error::from_errno(EINVAL);
      return true;
    }
    // A peer that sends one endless line keeps this loop reading and dropping for as long as it sends;
    // past a few buffers the task lets the others (timers, the watchdog) run, then goes on.
    if (reads == max_reads_per_poll) {
      context.waker.wake();
      return false;
    }
    std::optional<Result<size_t>> read;
    if (!poll_read(context, read)) return false;
    const Result<size_t>& got = *read;
    if (!got.ok()) {
      error_ = got.error();
      return true;
    }
    if (got.value() == 0) {
      if (!reader_->take_unterminated_line(&line_)) error_ = end_of_stream;
      return true;
    }
    reader_->commit(got.value());
  }
}

}  // namespace emio
