// SPDX-License-Identifier: MIT
// The everyday helpers on streams: write_all across a full socket buffer, text overloads, and the
// bounded LineReader (LF and CRLF line ends, a line split across reads, a line too long for its buffer,
// the last line without a newline, end of stream).
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <unistd.h>

#include <optional>
#include <string>

#include "emio/runtime/runtime.h"
#include "runtime/runtime_fixture.h"
#include "support/check.h"

using emio::Result;
using emio::Task;
using emio::UnixStream;

namespace {

Task<> write_everything(UnixStream& stream, std::span<const std::byte> data, size_t& written) {
  Result<size_t> outcome = co_await stream.write_all(data);
  written = REQUIRE_VALUE(outcome);
}

Task<> read_until_end(UnixStream& stream, std::string& received) {
  char buffer[512];  // the frame must fit the pool's 2 KiB frames
  for (;;) {
    Result<size_t> got = co_await stream.read(std::span<char>(buffer));
    if (!got.ok() || got.value() == 0) co_return;
    received.append(buffer, got.value());
  }
}

// A buffer with a NUL inside: a strlen would stop after "ab".
constexpr size_t char_buffer_bytes = 6;

Task<> write_char_buffer(UnixStream& stream, bool all, std::optional<Result<size_t>>& outcome) {
  char buffer[char_buffer_bytes] = {'a', 'b', '\0', 'c', 'd', 'e'};
  // Not `all ? co_await ... : co_await ...`: GCC 12 runs both awaits of such a conditional.
  if (all) {
    outcome.emplace(co_await stream.write_all(buffer));
  } else {
    outcome.emplace(co_await stream.write(buffer));
  }
}

Task<> write_literal(UnixStream& stream, std::optional<Result<size_t>>& outcome) {
  outcome.emplace(co_await stream.write("hi"));
}

struct Lines {
  std::string joined;  // each line followed by '|'; errors as <NAME>
};

Task<> read_lines(UnixStream& stream, emio::LineReader& reader, Lines& lines) {
  for (;;) {
    Result<std::string_view> line = co_await reader.next(stream);
    if (!line.ok()) {
      // append, not operator+ on temporaries: GCC 12 at -O3 reports a false -Wrestrict there (GCC bug 105329)
      lines.joined.append("<").append(line.error().name()).append(">");
      if (line.error() != emio::line_too_long) co_return;
      continue;
    }
    lines.joined.append(line.value()).append("|");
  }
}

}  // namespace

TEST_GROUP(StreamHelpers) {
  emio::Executor executor;
  emio::UnixStreamPair pair;
  void setup() override {
    CHECK_OK(executor.init(emio_test::executor_config(4)));
    pair = REQUIRE_TAKE(UnixStream::pair(executor.handle()));
  }

  // Sends `text` from the pair's second end, then closes it, and collects what a LineReader of
  // `buffer_bytes` makes of it.
  std::string lines_of(std::string_view text, size_t buffer_bytes) {
    char storage[64];
    emio::LineReader reader(std::span<char>(storage, buffer_bytes));
    Lines lines;
    Result<emio::TaskId> task = executor.spawn(read_lines(pair.first, reader, lines));
    CHECK(task.ok());
    CHECK_EQUAL(static_cast<ssize_t>(text.size()), ::send(pair.second.fd(), text.data(), text.size(), 0));
    CHECK_OK(pair.second.close());
    emio_test::run_to_completion(executor, task);
    return lines.joined;
  }
};

TEST(StreamHelpers, WriteAllSendsEverythingAcrossAFullSocketBuffer) {
  std::string data(1 << 20, 'x');  // far more than a socket buffer holds
  for (size_t i = 0; i < data.size(); ++i) data[i] = static_cast<char>('a' + i % 26);
  size_t written = 0;
  std::string received;
  Result<emio::TaskId> writer = executor.spawn(write_everything(pair.first, std::as_bytes(std::span(data)), written));
  Result<emio::TaskId> reader = executor.spawn(read_until_end(pair.second, received));
  emio_test::run_to_completion(executor, writer);
  CHECK_EQUAL(data.size(), written);
  CHECK_OK(pair.first.shutdown_write());
  emio_test::run_to_completion(executor, reader);
  CHECK(received == data);
}

TEST(StreamHelpers, LinesEndWithLfOrCrLf) { STRCMP_EQUAL("one|two|<ENODATA>", lines_of("one\ntwo\r\n", 32).c_str()); }

TEST(StreamHelpers, TheLastLineNeedsNoNewline) { STRCMP_EQUAL("a|tail|<ENODATA>", lines_of("a\ntail", 32).c_str()); }

TEST(StreamHelpers, ALineLongerThanTheBufferIsAnErrorAndDroppedToItsEnd) {
  STRCMP_EQUAL("ok|<EMSGSIZE>next|<ENODATA>", lines_of("ok\nthis line is far too long for eight\nnext\n", 8).c_str());
}

TEST(StreamHelpers, ManyLinesInOneReadComeOneByOne) {
  STRCMP_EQUAL("1|2|3||5|<ENODATA>", lines_of("1\n2\n3\n\n5\n", 32).c_str());
}

TEST(StreamHelpers, ALineMustFitTheBufferWithItsTerminator) {
  STRCMP_EQUAL("abc|<EMSGSIZE>ab|<EMSGSIZE><ENODATA>", lines_of("abc\nabcd\nab\r\nabc\r\n", 4).c_str());
}

TEST(StreamHelpers, AnEmptyBufferFailsNextWithEinval) { STRCMP_EQUAL("<EINVAL>", lines_of("line\n", 0).c_str()); }

namespace {

struct QueuedBytes {
  int fd = -1;
  int when_it_ran = -1;  // bytes still queued on `fd` when the other task got its turn
};

void note_queued_bytes(void* context) {
  auto* queued = static_cast<QueuedBytes*>(context);
  (void)::ioctl(queued->fd, FIONREAD, &queued->when_it_ran);
}

}  // namespace

// Regression: one endless line kept the reader in a single poll, dropping buffer after buffer for as
// long as the peer sent, and no other task or timer ran (found by review, a probe with a flooding peer).
TEST(StreamHelpers, AnEndlessLineLetsTheOtherTasksRun) {
  constexpr int flood_bytes = 64 * 1024;
  const std::string flood(1024, 'x');  // no newline anywhere
  for (int sent = 0; sent < flood_bytes; sent += int(flood.size())) {
    CHECK_EQUAL(static_cast<ssize_t>(flood.size()), ::send(pair.second.fd(), flood.data(), flood.size(), 0));
  }
  char storage[16];
  emio::LineReader reader(storage);
  Lines lines;
  QueuedBytes queued{pair.first.fd()};
  Result<emio::TaskId> task = executor.spawn(read_lines(pair.first, reader, lines));
  CHECK(task.ok());
  CHECK(executor.spawn(&note_queued_bytes, &queued).ok());  // queued behind the reader
  CHECK_OK(pair.second.close());
  emio_test::run_to_completion(executor, task);
  CHECK_TEXT(queued.when_it_ran > flood_bytes / 2, "the reader read most of the flood before the other task ran");
  STRCMP_EQUAL("<EMSGSIZE><ENODATA>", lines.joined.c_str());
}

// Defect 8 of the review: a char array went through std::string_view, measured by strlen.
TEST(StreamHelpers, WriteOfACharArraySendsAllOfItsBytes) {
  std::optional<Result<size_t>> written;
  emio_test::run_to_completion(executor, REQUIRE_VALUE(executor.spawn(write_char_buffer(pair.first, false, written))));
  CHECK_EQUAL(char_buffer_bytes, REQUIRE_VALUE(*written));
  char received[16] = {};
  const ssize_t got = ::recv(pair.second.fd(), received, sizeof received, 0);
  CHECK_EQUAL(static_cast<ssize_t>(char_buffer_bytes), got);
  MEMCMP_EQUAL("ab\0cde", received, char_buffer_bytes);
}

TEST(StreamHelpers, WriteAllOfACharArraySendsAllOfItsBytes) {
  std::optional<Result<size_t>> written;
  emio_test::run_to_completion(executor, REQUIRE_VALUE(executor.spawn(write_char_buffer(pair.first, true, written))));
  CHECK_EQUAL(char_buffer_bytes, REQUIRE_VALUE(*written));
}

// The other side of the char array overloads: a literal is text, written without its terminating NUL.
TEST(StreamHelpers, WriteOfAStringLiteralLeavesItsNulOut) {
  std::optional<Result<size_t>> written;
  emio_test::run_to_completion(executor, REQUIRE_VALUE(executor.spawn(write_literal(pair.first, written))));
  CHECK_EQUAL(2u, REQUIRE_VALUE(*written));
}
