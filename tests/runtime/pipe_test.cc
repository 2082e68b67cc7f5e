// SPDX-License-Identifier: MIT
// Pipe: both ends registered; end of stream, EPIPE, and a full pipe's would_block.
#include "emio/runtime/runtime.h"
#include "runtime/runtime_fixture.h"
#include "support/check.h"

using emio::Error;
using emio::Pipe;
using emio::Result;

namespace {

emio::Task<> read_some(emio::ByteStream& end, char* received, Error& outcome) {
  Result<size_t> got = co_await end.read(std::as_writable_bytes(std::span(received, 15)));
  outcome = got.ok() ? Error{} : got.error();
}

}  // namespace

TEST_GROUP(Pipe) {
  emio::Executor executor;
  Pipe pipe;
  void setup() override {
    CHECK_OK(executor.init(emio_test::executor_config(2)));
    pipe = REQUIRE_TAKE(Pipe::open(executor.handle()));
  }
};

TEST(Pipe, BytesWrittenToTheWriteEndAreReadFromTheReadEnd) {
  char received[16] = {};
  Error outcome = Error::shut_down;
  Result<emio::TaskId> task = executor.spawn(read_some(pipe.read_end, received, outcome));
  CHECK_OK(executor.run_once(0));
  CHECK_EQUAL(4u, REQUIRE_VALUE(pipe.write_end.try_write(emio_test::bytes_of("pipe"))));
  emio_test::run_to_completion(executor, task);
  CHECK_OK(outcome);
  STRCMP_EQUAL("pipe", received);
}

TEST(Pipe, ClosedWriteEndReadsAsEndOfStream) {
  CHECK_OK(pipe.write_end.close());
  std::byte buffer[4];
  CHECK_EQUAL(0u, REQUIRE_VALUE(pipe.read_end.try_read(buffer)));
}

TEST(Pipe, WritingAfterTheReadEndClosedFailsWithEpipe) {
  CHECK_OK(pipe.read_end.close());  // the test binary ignores SIGPIPE, as a daemon does
  CHECK_ERROR(emio::Error::from_errno(EPIPE), pipe.write_end.try_write(emio_test::bytes_of("x")).error());
}

TEST(Pipe, FullPipeWouldBlockUntilTheReaderDrains) {
  std::byte chunk[4096] = {};
  Error last;
  for (int attempt = 0; attempt < 1000 && last.ok(); ++attempt) {
    Result<size_t> written = pipe.write_end.try_write(chunk);
    last = written.ok() ? Error{} : written.error();
  }
  CHECK_ERROR(emio::would_block, last);
  CHECK_FALSE(pipe.write_end.source().io().readiness(emio::Direction::write).ready.is_writable());
  std::byte sink[65536];
  while (pipe.read_end.try_read(sink).ok()) {
  }
  CHECK_OK(executor.run_once(10000));
  CHECK(pipe.write_end.source().io().readiness(emio::Direction::write).ready.is_writable());
}

TEST(Pipe, ShortReadClearsReadinessWithoutAnotherSystemCall) {
  CHECK_EQUAL(3u, REQUIRE_VALUE(pipe.write_end.try_write(emio_test::bytes_of("abc"))));
  auto readable = [&] { return pipe.read_end.source().io().readiness(emio::Direction::read).ready.is_readable(); };
  for (int round = 0; round < 1000 && !readable(); ++round) CHECK_OK(executor.run_once(100));
  std::byte buffer[8];
  CHECK_EQUAL(3u, REQUIRE_VALUE(pipe.read_end.try_read(buffer)));
  CHECK_FALSE(readable());  // a byte stream: fewer bytes than asked for means the pipe is empty
}
