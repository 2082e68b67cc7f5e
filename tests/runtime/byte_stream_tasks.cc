// SPDX-License-Identifier: MIT
#include "runtime/byte_stream_tasks.h"

#include <algorithm>

namespace emio_test {

emio::Task<> read_once(emio::ByteStream& stream, std::span<std::byte> buffer,
                       std::optional<emio::Result<size_t>>& outcome) {
  outcome.emplace(co_await stream.read(buffer));
}

emio::Task<> read_with_timeout(emio::ByteStream& stream, uint32_t timeout_ms,
                               std::optional<emio::Result<size_t>>& outcome) {
  std::byte buffer[16];
  outcome.emplace(co_await emio::with_timeout(timeout_ms, stream.read(buffer)));
}

emio::Task<> read_all(emio::ByteStream& stream, size_t chunk_bytes, std::span<std::byte> into, emio::Error& outcome) {
  size_t done = 0;
  while (done < into.size()) {
    emio::Result<size_t> got = co_await stream.read(into.subspan(done, std::min(chunk_bytes, into.size() - done)));
    if (!got.ok() || got.value() == 0) {
      outcome = got.ok() ? emio::Error::from_errno(EPIPE) : got.error();
      co_return;
    }
    done += got.value();
  }
  outcome = emio::Error{};
}

emio::Task<> write_all(emio::ByteStream& stream, std::span<const std::byte> data,
                       std::optional<emio::Result<size_t>>& outcome) {
  outcome.emplace(co_await stream.write_all(data));
}

void fill_pattern(std::span<std::byte> bytes) {
  for (size_t i = 0; i < bytes.size(); ++i) bytes[i] = static_cast<std::byte>((i * 7 + 3) & 0xFF);
}

void check_bytes_arrive_in_order_across_many_writes(emio::Executor& executor, emio::ByteStream& writer,
                                                    emio::ByteStream& reader, size_t bytes) {
  constexpr size_t most_bytes = 1024;
  CHECK(bytes <= most_bytes);
  std::byte sent_storage[most_bytes];
  std::byte received_storage[most_bytes] = {};
  const std::span<std::byte> sent(sent_storage, bytes);
  const std::span<std::byte> received(received_storage, bytes);
  fill_pattern(sent);
  std::optional<emio::Result<size_t>> written;
  emio::Error outcome = emio::Error::shut_down;
  CHECK(executor.spawn(write_all(writer, sent, written)).ok());
  emio::Result<emio::TaskId> task = executor.spawn(read_all(reader, bytes, received, outcome));
  run_to_completion(executor, task);
  CHECK_OK(outcome);
  CHECK_EQUAL(bytes, REQUIRE_VALUE(*written));
  MEMCMP_EQUAL(sent.data(), received.data(), bytes);
}

void run_until_records_free(emio::Executor& executor) {
  for (int round = 0; round < 400 && executor.native_streams().in_use() > 0; ++round) {
    CHECK_OK(executor.run_once(10));
  }
}

void check_end_of_stream_reads_zero(emio::Executor& executor, emio::ByteStream& writer, emio::ByteStream& reader) {
  CHECK_OK(writer.close());
  std::byte buffer[8];
  std::optional<emio::Result<size_t>> got;
  emio::Result<emio::TaskId> task = executor.spawn(read_once(reader, buffer, got));
  run_to_completion(executor, task);
  CHECK_EQUAL(0u, REQUIRE_VALUE(*got));
}

void check_abandoned_read_loses_no_bytes(emio::Executor& executor, emio::ByteStream& reader, emio::ByteStream& writer) {
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
