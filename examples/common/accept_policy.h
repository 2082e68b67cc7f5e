// SPDX-License-Identifier: MIT
// What every listener of the example daemons does when accept(2) fails, in one place (emio-echo's
// clients, emio-bridge's clients and its metrics page).
//
// Out of fds or memory (EMFILE, ENFILE, ENOBUFS, ENOMEM) the connection stays queued in the kernel and the
// listener stays readable: re-arming at once would spin at full CPU and log a line per attempt (seen: over
// a million "accept: EMFILE" lines a second). So the listener backs off for resource_backoff_ms while the
// connections already served keep going, and tries again by itself. A connection that failed on its own
// (ECONNABORTED, EPROTO, ...: the peer reset it while queued) is skipped at once. Either way the log gets
// at most one line per log_interval_ms, with the count of failures since the last line.
#pragma once

#include <cstdint>

#include "emio/port/error.h"

namespace emio_examples {

class AcceptPolicy {
 public:
  static constexpr uint32_t resource_backoff_ms = 100;
  static constexpr uint32_t log_interval_ms = 1000;

  enum class Next : uint8_t {
    accept_again,  // the failure was the connection's own: accept the next one now
    back_off,      // out of a resource: wait resource_backoff_ms, then accept again
    stop,          // the executor is shutting down, or the listener was closed
  };

  // `listener_name` names the listener in the log ("clients", "metrics").
  explicit AcceptPolicy(const char* listener_name) : listener_name_(listener_name) {}

  // Counts `error`, logs it (rate-limited) and says what to do next.
  Next on_failure(emio::Error error);
  // After a successful accept: logs the failures the rate limit held back, if any, so the last count
  // of an episode is never lost and the log shows that accepting works again.
  void on_success();

  // Failed accepts since start-up, for the daemons' counters.
  uint64_t failures() const { return failures_; }

 private:
  void log_rate_limited(emio::Error error);

  const char* listener_name_;
  uint64_t failures_ = 0;
  uint64_t unlogged_failures_ = 0;
  uint64_t last_log_ms_ = 0;
  bool logged_once_ = false;
};

}  // namespace emio_examples
