// SPDX-License-Identifier: MIT
#include "sim/sim_workload.h"

#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>

#include "emio/driver/sim_backend.h"

namespace emio_sim {
namespace {

constexpr uint32_t max_chunk_bytes = 256;     // one write into a source
constexpr uint32_t max_transfer_bytes = 512;  // one read or write by a served source
constexpr uint32_t max_wanted_bytes = 4096;   // one request for a source to send
constexpr uint64_t operations_per_settle = 1000;
// A settle ends once every source is served; this many turns in a row that move nothing, with bytes
// still unannounced, is a lost event (the schedule holds an event back at most 3 waits).
constexpr uint32_t stalled_turns = 16;
constexpr uint32_t outbound_stream_bit = 0x80000000u;

// The byte at `position` of `stream`: a lost, repeated, reordered or foreign byte differs from it.
uint8_t pattern(uint32_t stream, uint64_t position) {
  return static_cast<uint8_t>((position * 0x9e3779b97f4a7c15ULL + stream * 0xbf58476d1ce4e5b9ULL) >> 56);
}

void fill(char* data, size_t length, uint32_t stream, uint64_t position) {
  for (size_t i = 0; i < length; ++i) data[i] = static_cast<char>(pattern(stream, position + i));
}

bool matches(const char* data, size_t length, uint32_t stream, uint64_t position) {
  for (size_t i = 0; i < length; ++i) {
    if (static_cast<uint8_t>(data[i]) != pattern(stream, position + i)) return false;
  }
  return true;
}

bool would_block(ssize_t result) { return result < 0 && (errno == EAGAIN || errno == EWOULDBLOCK); }

}  // namespace

Workload::Workload(emio::Driver& driver, uint64_t seed) : driver_(driver), stream_state_(seed ^ 0x5eedULL) {}

Workload::~Workload() {
  for (Source& source : sources_) {
    if (source.registered) (void)driver_.handle().deregister(source.registration);
  }
}

uint64_t Workload::draw() { return emio::sim_next(stream_state_); }

bool Workload::run(uint64_t operations) {
  for (Source& source : sources_) {
    if (!open(source)) return false;
  }
  for (operation_ = 0; operation_ < operations; ++operation_) {
    if (!operate()) return false;
    figures_.operations += 1;
    if ((operation_ + 1) % operations_per_settle == 0 && !settle()) return false;
  }
  return settle();
}

bool Workload::operate() {
  const uint64_t choice = draw() % 100;
  if (choice < 40) return write_in(any_source());
  if (choice < 50) return read_out(any_source());
  if (choice < 85) return turn_and_serve();
  if (choice < 92) return want_out(any_source());
  if (choice < 97) return toggle_registration(any_source());
  return reopen(any_source());
}

bool Workload::open(Source& source) {
  source.is_pipe = draw() % 4 == 0;
  source.pair = source.is_pipe ? emio_test::make_pipe() : emio_test::make_socketpair(SOCK_STREAM);
  if (!source.pair.first.valid() || !source.pair.second.valid()) return fail("cannot open a pair", &source);
  source.stream = next_stream_++;
  source.in_written = source.in_read = 0;
  source.out_wanted = source.out_written = source.out_read = 0;
  return add(source);
}

bool Workload::add(Source& source) {
  static const emio::Interest choices[] = {emio::Interest::readable, emio::Interest::writable,
                                           emio::Interest::readable | emio::Interest::writable};
  // A pipe's registered end is its read end: only reading makes sense there.
  source.interest = source.is_pipe ? emio::Interest::readable : choices[draw() % 3];
  auto added = driver_.handle().add_source(source.pair.first.get(), source.interest);
  if (!added.ok()) return fail("add_source failed", &source);
  source.registration = added.value();
  source.registered = true;
  return true;
}

bool Workload::write_in(Source& source) {
  char data[max_chunk_bytes];
  const size_t length = 1 + draw() % max_chunk_bytes;
  fill(data, length, source.stream, source.in_written);
  const ssize_t written = ::write(source.pair.second.get(), data, length);
  if (written > 0) source.in_written += static_cast<uint64_t>(written);
  if (written < 0 && !would_block(written)) return fail("write into a source failed", &source);
  return true;
}

bool Workload::read_out(Source& source) {
  if (source.is_pipe) return true;
  char data[max_transfer_bytes];
  for (;;) {
    const ssize_t got = ::read(source.pair.second.get(), data, sizeof data);
    if (would_block(got)) return true;
    if (got <= 0) return fail("the far end of a source failed to read", &source);
    const auto length = static_cast<size_t>(got);
    if (!matches(data, length, source.stream | outbound_stream_bit, source.out_read)) {
      return fail("a byte a source sent arrived wrong (lost, repeated, reordered or another's)", &source);
    }
    source.out_read += length;
    figures_.bytes_out += length;
  }
}

bool Workload::turn_and_serve() {
  if (!driver_.turn(0).ok()) return fail("turn failed", nullptr);
  for (Source& source : sources_) {
    if (!serve(source)) return false;
  }
  return true;
}

bool Workload::serve(Source& source) {
  if (!source.registered) return true;
  const emio::ScheduledIo& io = *source.registration.io;
  const bool readable = io.readiness(emio::Direction::read).ready.is_readable();
  const bool writable = io.readiness(emio::Direction::write).ready.is_writable();
  // Spurious events are allowed, but only within the interest: epoll never reports another direction.
  if (readable && !source.interest.contains(emio::Interest::readable)) {
    return fail("a source that did not ask to read was told it is readable", &source);
  }
  if (writable && !source.interest.contains(emio::Interest::writable)) {
    return fail("a source that did not ask to write was told it is writable", &source);
  }
  if (readable && !read_in(source)) return false;
  return !writable || source.out_wanted == 0 || write_out(source);
}

// As the runtime reads: until a short read or EAGAIN, either of which means "drained".
bool Workload::read_in(Source& source) {
  const emio::ReadyEvent seen = source.registration.io->readiness(emio::Direction::read);
  char data[max_transfer_bytes];
  for (;;) {
    const size_t asked = 1 + draw() % max_transfer_bytes;
    const ssize_t got = ::read(source.pair.first.get(), data, asked);
    if (would_block(got)) break;
    if (got <= 0) return fail("a source failed to read", &source);
    const auto length = static_cast<size_t>(got);
    if (!matches(data, length, source.stream, source.in_read)) {
      return fail("a byte written into a source arrived wrong (lost, repeated, reordered or another's)", &source);
    }
    source.in_read += length;
    figures_.bytes_in += length;
    moved_ += length;
    if (length < asked) break;
  }
  source.registration.io->clear_readiness(seen);
  return true;
}

bool Workload::write_out(Source& source) {
  const emio::ReadyEvent seen = source.registration.io->readiness(emio::Direction::write);
  char data[max_transfer_bytes];
  while (source.out_wanted != 0) {
    const uint64_t limit = source.out_wanted < max_transfer_bytes ? source.out_wanted : max_transfer_bytes;
    const size_t asked = 1 + draw() % limit;
    fill(data, asked, source.stream | outbound_stream_bit, source.out_written);
    const ssize_t sent = ::write(source.pair.first.get(), data, asked);
    if (would_block(sent)) break;
    if (sent <= 0) return fail("a source failed to send", &source);
    const auto length = static_cast<uint64_t>(sent);
    source.out_written += length;
    source.out_wanted -= length;
    moved_ += length;
    if (length < asked) break;
  }
  // Cleared only when the kernel said so; with nothing left to send the readiness stays for the next.
  if (source.out_wanted != 0) source.registration.io->clear_readiness(seen);
  return true;
}

bool Workload::want_out(Source& source) {
  if (!source.is_pipe) source.out_wanted += 1 + draw() % max_wanted_bytes;
  return true;
}

bool Workload::toggle_registration(Source& source) {
  figures_.reregistrations += 1;
  if (!source.registered) return add(source);
  source.registered = false;
  if (driver_.handle().deregister(source.registration).failed()) return fail("deregister failed", &source);
  return true;
}

bool Workload::reopen(Source& source) {
  figures_.reopenings += 1;
  const bool close_first = draw() % 2 == 0;
  const emio::Registration old = source.registration;
  const bool was_registered = source.registered;
  if (was_registered && !close_first && driver_.handle().deregister(old).failed()) {
    return fail("deregister failed", &source);
  }
  source.registered = false;
  source.pair = emio_test::FdPair{};
  if (!open(source)) return false;
  // Closed first, its number maybe taken by the new pair: deregistering now says EBADF or ENOENT, for the
  // record; what matters is that the new owner keeps its events (the settle checks it).
  if (was_registered && close_first) (void)driver_.handle().deregister(old);
  return true;
}

bool Workload::settle() {
  figures_.settles += 1;
  uint32_t idle = 0;
  for (const Source* waiting = unsettled(); waiting != nullptr; waiting = unsettled()) {
    const uint64_t moved_before = moved_;
    if (!turn_and_serve()) return false;
    for (Source& source : sources_) {
      if (!read_out(source)) return false;
    }
    idle = moved_ == moved_before ? idle + 1 : 0;
    if (idle == stalled_turns) return fail("bytes wait at a source that was never told (a lost event)", waiting);
  }
  return check_accounts();
}

const Workload::Source* Workload::unsettled() const {
  for (const Source& source : sources_) {
    if (!source.registered) continue;
    if (source.interest.contains(emio::Interest::readable) && source.in_read != source.in_written) return &source;
    if (source.interest.contains(emio::Interest::writable) && source.out_wanted != 0) return &source;
  }
  return nullptr;
}

// Every event the schedule delivered was dispatched, dropped as stale, or the driver's wake; and the
// stale ones, exactly, were dropped (an event for a removed token never reaches the slot's new owner).
bool Workload::check_accounts() {
  const emio::SimStats sim = emio::sim_stats();
  const emio::DriverStats& stats = driver_.stats();
  if (stats.stale_events_dropped != sim.stale_delivered) {
    return fail("the driver dropped a different number of stale events than the schedule delivered", nullptr);
  }
  if (stats.events_dispatched + stats.stale_events_dropped + stats.wakes_received != sim.delivered) {
    return fail("an event the schedule delivered was neither dispatched nor dropped", nullptr);
  }
  return true;
}

bool Workload::fail(const char* what, const Source* source) {
  const long index = source == nullptr ? -1 : static_cast<long>(source - sources_);
  std::snprintf(failure_, sizeof failure_, "%s (operation %llu, source %ld; EMIO_SIM_SEED=%llu replays it)", what,
                static_cast<unsigned long long>(operation_), index, static_cast<unsigned long long>(emio::sim_seed()));
  return false;
}

}  // namespace emio_sim
