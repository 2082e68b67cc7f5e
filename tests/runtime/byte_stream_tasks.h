// SPDX-License-Identifier: MIT
// Tasks and checks on any ByteStream (a socket, a pipe end, a serial port), shared by the suites that
// run the same behaviour on each (NativeStream, PipeOnTheRing).
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>

#include "emio/runtime/runtime.h"
#include "runtime/runtime_fixture.h"
#include "support/check.h"

namespace emio_test {

// Tasks (defined in byte_stream_tasks.cc: clang cannot emit inline coroutines under ASan with -g,
// "Cannot represent a difference across sections").
emio::Task<> read_once(emio::ByteStream& stream, std::span<std::byte> buffer,
                       std::optional<emio::Result<size_t>>& outcome);
emio::Task<> read_with_timeout(emio::ByteStream& stream, uint32_t timeout_ms,
                               std::optional<emio::Result<size_t>>& outcome);
// Reads until `into` is full, `chunk_bytes` at most per read.
emio::Task<> read_all(emio::ByteStream& stream, size_t chunk_bytes, std::span<std::byte> into, emio::Error& outcome);
emio::Task<> write_all(emio::ByteStream& stream, std::span<const std::byte> data,
                       std::optional<emio::Result<size_t>>& outcome);

void fill_pattern(std::span<std::byte> bytes);
// Runs iterations until every native stream record is free again, or a bound runs out: up to 4 s, since
// a closed stream's last send may linger for 2 s.
void run_until_records_free(emio::Executor& executor);

// Checks, each one behaviour. `bytes` (at most 1024), more than one send buffer of a native stream,
// written with write_all (several writes), arrive in order.
void check_bytes_arrive_in_order_across_many_writes(emio::Executor& executor, emio::ByteStream& writer,
                                                    emio::ByteStream& reader, size_t bytes);
// Once `writer` (the other end, or the peer) has closed, an awaited read on `reader` returns 0.
void check_end_of_stream_reads_zero(emio::Executor& executor, emio::ByteStream& writer, emio::ByteStream& reader);
// A read abandoned by a timeout loses nothing: the bytes written after it are what the next read gets.
void check_abandoned_read_loses_no_bytes(emio::Executor& executor, emio::ByteStream& reader, emio::ByteStream& writer);

}  // namespace emio_test
