// SPDX-License-Identifier: MIT
// The runtime's LineReader on a byte stream read in pieces, against a reference split of the whole stream:
// every line shorter than the buffer comes out whole (without "\n" and a "\r" before it), every longer
// one is reported once as too long and dropped up to its "\n", and an unterminated last line comes out
// at end of stream. Input: the buffer size, the piece size, then the stream.
#include <fuzzer/FuzzedDataProvider.h>

#include <algorithm>
#include <cstdint>
#include <cstring>
#include <string_view>

#include "emio/runtime/line_reader.h"
#include "fuzz/fuzz_check.h"

namespace {

constexpr size_t max_buffer_bytes = 64;

// What the reader must hand out next, read from the whole stream at once.
class ReferenceLines {
 public:
  ReferenceLines(std::string_view stream, size_t buffer_bytes) : rest_(stream), buffer_bytes_(buffer_bytes) {}

  // The next line or too-long report; false at the end of the stream.
  bool next(std::string_view* line, bool* too_long) {
    while (!rest_.empty()) {
      const size_t newline = rest_.find('\n');
      const bool terminated = newline != std::string_view::npos;
      std::string_view raw = rest_.substr(0, terminated ? newline : rest_.size());
      rest_.remove_prefix(terminated ? newline + 1 : rest_.size());
      // The buffer holds the line and the byte after it (its "\n", or room to learn there is none).
      *too_long = raw.size() >= buffer_bytes_;
      if (!terminated && raw.empty()) return false;
      if (terminated && raw.ends_with('\r')) raw.remove_suffix(1);
      *line = raw;
      return true;
    }
    return false;
  }

 private:
  std::string_view rest_;
  size_t buffer_bytes_;
};

void expect(ReferenceLines& reference, std::string_view line, bool too_long) {
  std::string_view expected;
  bool expected_too_long = false;
  FUZZ_CHECK(reference.next(&expected, &expected_too_long), "the reader made up a line");
  FUZZ_CHECK(too_long == expected_too_long, "too long reported for a line that fits, or not for one that does not");
  if (!too_long) FUZZ_CHECK(line == expected, "a line came out changed");
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  FuzzedDataProvider input(data, size);
  const size_t buffer_bytes = input.ConsumeIntegralInRange<size_t>(1, max_buffer_bytes);
  const size_t piece_bytes = input.ConsumeIntegralInRange<size_t>(1, 2 * max_buffer_bytes);
  const std::string_view stream(reinterpret_cast<const char*>(data) + (size - input.remaining_bytes()),
                                input.remaining_bytes());
  char storage[max_buffer_bytes];
  emio::LineReader reader(std::span(storage, buffer_bytes));
  ReferenceLines reference(stream, buffer_bytes);
  size_t fed = 0;
  for (;;) {
    std::string_view line;
    const emio::LineReader::Buffered buffered = reader.next_buffered(&line);
    FUZZ_CHECK(buffered != emio::LineReader::Buffered::no_buffer, "a buffer of one byte or more reported none");
    if (buffered != emio::LineReader::Buffered::needs_bytes) {
      expect(reference, line, buffered == emio::LineReader::Buffered::too_long);
      continue;
    }
    if (fed == stream.size()) break;
    const std::span<std::byte> space = reader.free_space();
    const size_t piece = std::min({piece_bytes, space.size(), stream.size() - fed});
    std::memcpy(space.data(), stream.data() + fed, piece);
    reader.commit(piece);
    fed += piece;
  }
  std::string_view last;
  if (reader.take_unterminated_line(&last)) expect(reference, last, false);
  std::string_view extra;
  bool extra_too_long = false;
  FUZZ_CHECK(!reference.next(&extra, &extra_too_long), "a line never came out");
  return 0;
}
