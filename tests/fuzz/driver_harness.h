// SPDX-License-Identifier: MIT
// The driver fuzz target's world: real pipes and socket pairs, the registrations the fuzzer made, the
// wakers it stored, and the completion operations it submitted, with what each must have seen. The steps
// (driver_fuzz.cc) change both the driver and this model, and the checks compare them after every step.
#pragma once

#include <cstddef>
#include <cstdint>

#include "emio/driver/driver.h"
#include "emio/port/fd.h"
#include "fuzz/driver_trace.h"

namespace emio_fuzz {

// Fewer than the ends, so add_source meets a full table; the operations' source takes one on epoll.
inline constexpr uint32_t driver_capacity = 7;
inline constexpr int channel_count = 4;  // two pipes, then two socket pairs
inline constexpr int end_count = 2 * channel_count;
inline constexpr int max_steps = 200;
inline constexpr uint32_t operation_capacity = 4;  // fewer than the records, so submit meets a full ledger
inline constexpr size_t max_transfer_bytes = 64;

// One end of a channel: a pipe's read end (even) or write end (odd), or either end of a socket pair.
struct End {
  emio::Fd fd;
  size_t pending_bytes = 0;  // written at the peer, not read here yet
  bool reads = false;
  bool writes = false;
  int registration = -1;  // the model registration of its current file, or -1
};

// A stored waker, by the registration and direction it was stored for. `stored` is the model's view:
// set by a poll_ready that returned not ready; cleared when the driver takes it (calls it), by
// clear_waker, deregister, and a poll_ready that returned ready: a call while clear is a contract breach.
struct Probe {
  bool stored = false;
};

struct ModelRegistration {
  bool live = false;
  emio::Registration registration{};
  int end = -1;            // -1: an orphan, whose fd was closed without deregister (its number may name a new file)
  bool saw_bytes = false;  // its file had bytes to read at some time since add_source
  Probe* probes[2] = {};   // per Direction; null when no probe is current
};

struct Harness;

// A completion operation record and how often it was accepted and completed.
struct OpRecord {
  Harness* harness = nullptr;
  int index = 0;  // its OpIndex
  emio::Operation op;
  uint32_t submitted = 0;
  uint32_t completed = 0;
  std::byte buffer[max_transfer_bytes] = {};
  bool in_flight() const { return completed < submitted; }
};

enum OpIndex { op_recv_first, op_recv_second, op_send, op_timeout, op_cancel, op_count };

struct Harness {
  emio::Driver* driver = nullptr;
  StepTrace* trace = nullptr;  // this driver's, kept across inputs
  End ends[end_count];
  ModelRegistration registrations[driver_capacity];
  emio::Registration removed{};  // the last registration deregistered: stale from then on
  Probe probes[2 * max_steps + 2];
  uint32_t probes_used = 0;
  // Operations run on ops_local; the fuzzer plays the peer on ops_peer. Both byte streams carry a
  // counting sequence, so a byte lost, duplicated or reordered shows.
  emio::Fd ops_local;
  emio::Fd ops_peer;
  emio::OpSource source{};
  OpRecord records[op_count];
  uint64_t sent_to_local = 0;        // sequence bytes written into ops_peer
  uint64_t received_by_local = 0;    // sequence bytes the recv operations delivered
  uint64_t sent_by_local = 0;        // sequence bytes the send operations took
  uint64_t received_from_local = 0;  // sequence bytes read from ops_peer
};

// Opens (again) channel `channel`: both ends closed first, whatever is registered on them.
void open_channel(Harness& harness, int channel);
// Opens the operations' socket pair and attaches its local end.
void open_operations(Harness& harness);
// Writes up to `count` bytes at the peer of `end`; returns how many the kernel took.
size_t write_to(Harness& harness, int end, size_t count);
// Reads `end` until EAGAIN.
void drain(Harness& harness, int end);
// The counting sequence both operation streams carry: byte `position` of it.
std::byte sequence_byte(uint64_t position);
// Writes up to `count` sequence bytes into ops_peer, reads what the send operations sent (checking it).
void feed_operations(Harness& harness, size_t count);
void drain_operations(Harness& harness);

}  // namespace emio_fuzz
