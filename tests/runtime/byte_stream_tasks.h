// SPDX-License-Identifier: MIT
// Tasks and checks on any ByteStream (a socket, a pipe end, a serial port), shared by the suites that
// run the same behaviour on each (NativeStream, PipeOnTheRing).
#pragma once

#include <algorithm>
#include <cstddef>
#include <optional>
#include <span>

#include "emio/runtime/runtime.h"
#include "runtime/runtime_fixture.h"
#include "support/check.h"

namespace emio_test {

inline emio::Task<> read_once(emio::ByteStream& stream, std::span<std::byte> buffer,
                              std::optional<emio::Result<size_t>>& outcome) {
  outcome.emplace(co_await stream.read(buffer));
}

inline emio::Task<> read_with_timeout(emio::ByteStream& stream, uint32_t timeout_ms,
                                      std::optional<emio::Result<size_t>>& outcome) {
  std::byte buffer[16];
  outcome.emplace(co_await emio::with_timeout(timeout_ms, stream.read(buffer)));
}

// Reads until `into` is full, `chunk_bytes` at most per read.
inline emio::Task<> read_all(emio::ByteStream& stream, size_t chunk_bytes, std::span<std::byte> into,
                             emio::Error& outcome) {
  size_t done = 0;
  while (done < into.size()) {
    emio::Result<size_t> got =
        co_await stream.read(into.subspan(done, std::min(chunk_bytes, into.size() - done)));
    if (!got.ok() || got.value() == 0) {
      outcome = got.ok() ? emio::Error::from_errno(EPIPE) : got.error();
      co_return;
    }
    done += got.value();
  }
  outcome = emio::Error{};
}

inline emio::Task<> write_all(emio::ByteStream& stream, std::span<const std::byte> data,
                              std::optional<emio::Result<size_t>>& outcome) {
  outcome.emplace(co_await stream.write_all(data));
}

inline void fill_pattern(std::span<std::byte> bytes) {
  for (size_t i = 0; i < bytes.size(); ++i) bytes[i] = static_cast<std::byte>((i * 7 + 3) & 0xFF);
}

// N bytes, more than one send buffer of a native stream, written with write_all (several writes) arrive
// in order.
template <size_t N>
void check_bytes_arrive_in_order_across_many_writes(emio::Executor& executor, emio::ByteStream& writer,
                                                    emio::ByteStream& reader) {
  std::byte sent[N];
  fill_pattern(sent);
  std::byte received[N] = {};
  std::optional<emio::Result<size_t>> written;
  emio::Error outcome = emio::Error::shut_down;
  CHECK(executor.spawn(write_all(writer, sent, written)).ok());
  emio::Result<emio::TaskId> task = executor.spawn(read_all(reader, N, received, outcome));
  run_to_completion(executor, task);
  CHECK_OK(outcome);
  CHECK_EQUAL(N, REQUIRE_VALUE(*written));
  MEMCMP_EQUAL(sent, received, N);
}

// Runs iterations until every native stream record is free again, or a bound runs out: up to 4 s, since
// a closed stream's last send may linger for 2 s.
inline void run_until_records_free(emio::Executor& executor) {
  for (int round = 0; round < 400 && executor.native_streams().in_use() > 0; ++round) {
    CHECK_OK(executor.run_once(10));
  }
}

// Once `writer` (the other end, or the peer) has closed, an awaited read on `reader` returns 0.
inline void check_end_of_stream_reads_zero(emio::Executor& executor, emio::ByteStream& writer,
                                           emio::ByteStream& reader) {
  CHECK_OK(writer.close());
  std::byte buffer[8];
  std::optional<emio::Result<size_t>> got;
  emio::Result<emio::TaskId> task = executor.spawn(read_once(reader, buffer, got));
  run_to_completion(executor, task);
  CHECK_EQUAL(0u, REQUIRE_VALUE(*got));
}

// A read abandoned by a timeout loses nothing: the bytes written after it are what the next read gets.
inline void check_abandoned_read_loses_no_bytes(emio::Executor& executor, emio::ByteStream& reader,
                                                emio::ByteStream& writer) {
  std::optional<emio::Result<size_t>> abandoned;
  emio::Result<emio::TaskId> first = executor.spawn(read_with_timeout(reader, 20, abandoned));
  run_to_completion(executor, first);
  CHECK_FALSE(abandoned->ok());
  CHECK_ERROR(emio::timed_out, abandoned->error());
  CHECK_EQUAL(4u, REQUIRE_VALUE(writer.try_write(bytes_of("late"))));
  char received[16] = {};
  std::optional<emio::Result<size_t>> next;
  emio::Result<emio::TaskId> second =
      executor.spawn(read_once(reader, std::as_writable_bytes(std::span(received)), next));
  run_to_completion(executor, second);
  CHECK_EQUAL(4u, REQUIRE_VALUE(*next));
  STRCMP_EQUAL("late", received);
}

}  // namespace emio_test
