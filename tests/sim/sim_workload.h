// SPDX-License-Identifier: MIT
// The randomized workload on the sim backend: 48 sources (socket pairs and pipes), each operation one
// of write into a source, read what a source sent, turn the driver and serve every source the way the
// runtime does (a short transfer is "drained"), ask a source to send, deregister or register again,
// close and reopen (sometimes closing before deregistering, so the number is reused). A model of each
// source says what it must have seen: every byte written arrives once, in order, at its own source,
// no source hears a direction it did not ask for, every stale event the schedule delivered was dropped,
// and after a settle no source still holds bytes it was never told about (no lost event).
#pragma once

#include <cstdint>

#include "emio/driver/driver.h"
#include "emio/driver/registration.h"
#include "support/sockets.h"

namespace emio_sim {

struct WorkloadFigures {
  uint64_t operations = 0;
  uint64_t bytes_in = 0;   // written by the test into sources, each read back and checked
  uint64_t bytes_out = 0;  // sent by sources, each read back and checked
  uint64_t reregistrations = 0;
  uint64_t reopenings = 0;
  uint64_t settles = 0;
};

class Workload {
 public:
  static constexpr uint32_t source_count = 48;

  Workload(emio::Driver& driver, uint64_t seed);
  ~Workload();
  Workload(const Workload&) = delete;
  Workload& operator=(const Workload&) = delete;

  // Runs `operations` operations and a final settle; false at the first broken rule (failure() says).
  bool run(uint64_t operations);
  const char* failure() const { return failure_; }
  const WorkloadFigures& figures() const { return figures_; }

 private:
  struct Source {
    emio_test::FdPair pair;  // first: the registered end; second: the test's far end
    bool is_pipe = false;
    bool registered = false;
    emio::Registration registration{};
    emio::Interest interest{};
    uint32_t stream = 0;  // a new one per pair opened: bytes of another stream show up as a mismatch
    uint64_t in_written = 0;
    uint64_t in_read = 0;
    uint64_t out_wanted = 0;  // bytes the source is still to send
    uint64_t out_written = 0;
    uint64_t out_read = 0;
  };

  uint64_t draw();
  Source& any_source() { return sources_[draw() % source_count]; }
  bool operate();
  bool open(Source& source);
  bool add(Source& source);
  bool write_in(Source& source);
  bool read_out(Source& source);
  bool turn_and_serve();
  bool serve(Source& source);
  bool read_in(Source& source);
  bool write_out(Source& source);
  bool want_out(Source& source);
  bool toggle_registration(Source& source);
  bool reopen(Source& source);
  bool settle();
  const Source* unsettled() const;  // the first registered source still owed bytes, or nullptr
  bool check_accounts();
  bool fail(const char* what, const Source* source);

  emio::Driver& driver_;
  uint64_t stream_state_;
  uint32_t next_stream_ = 1;
  uint64_t operation_ = 0;
  uint64_t moved_ = 0;  // bytes moved by serving, to tell a settle that stalls from one that drains
  Source sources_[source_count];
  WorkloadFigures figures_{};
  char failure_[256] = {};
};

}  // namespace emio_sim
