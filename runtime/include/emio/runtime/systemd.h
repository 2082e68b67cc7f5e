// SPDX-License-Identifier: MIT
// systemd integration without libsystemd: socket activation, readiness and status notifications, and the
// watchdog, the protocols sd_listen_fds(3), sd_notify(3) and sd_watchdog_enabled(3) describe. Outside
// systemd (no LISTEN_FDS, no NOTIFY_SOCKET, no WATCHDOG_USEC) each does nothing and says so, so one
// daemon binary runs both ways.
//
//   if (emio::systemd::listen_fd_count() > 0) listener = TcpListener::adopt(handle, emio::systemd::listen_fd(0));
//   ...
//   emio::systemd::notify("READY=1\nSTATUS=serving");
//   emio::systemd::Watchdog watchdog;  (void)watchdog.start(executor);  // WATCHDOG=1 at half the interval
//   ...
//   emio::systemd::notify("STOPPING=1");
#pragma once

#include <cstdint>

#include "emio/port/error.h"
#include "emio/port/fd.h"
#include "emio/runtime/executor.h"
#include "emio/runtime/timer.h"

namespace emio::systemd {

// The first fd systemd passes (SD_LISTEN_FDS_START).
inline constexpr int first_listen_fd = 3;
// More is refused as a malformed environment.
inline constexpr uint32_t max_listen_fds = 64;

// How many sockets systemd passed to this process: LISTEN_FDS, if LISTEN_PID is this process; else 0.
uint32_t listen_fd_count();
// The `index`th passed fd, close-on-exec from now on, owned by the caller; an invalid Fd past the count.
// Each index is taken once.
Fd listen_fd(uint32_t index);
// The index of the fd named `name` in LISTEN_FDNAMES (FileDescriptorName= in the .socket unit), or -1.
int listen_fd_index(const char* name);

// Sends `state` ("READY=1", "STATUS=...", "RELOADING=1", "STOPPING=1", lines joined by '\n') to
// NOTIFY_SOCKET (a path, or '@' for an abstract name). Error{} also when there is no NOTIFY_SOCKET (not
// under systemd); the socket's errors otherwise.
Error notify(const char* state);

// WATCHDOG_USEC, if WATCHDOG_PID is absent or this process; 0 when the watchdog is off.
uint64_t watchdog_interval_us();

// Sends WATCHDOG=1 at half the interval from the executor's timers: if the loop stalls, the pings stop
// and systemd restarts the daemon, which is the point.
class Watchdog {
 public:
  Watchdog() = default;
  Watchdog(const Watchdog&) = delete;
  Watchdog& operator=(const Watchdog&) = delete;
  ~Watchdog() { stop(); }

  // Starts pinging if the watchdog is on (else does nothing). Errors: the timer's (capacity_full).
  Error start(Executor& executor);
  void stop() {
    (void)timer_.cancel();
    running_ = false;
  }
  bool running() const { return running_; }
  uint64_t pings_sent() const { return pings_sent_; }

 private:
  static void on_timer(Timer& timer, void* self);

  Timer timer_;
  uint64_t pings_sent_ = 0;
  bool running_ = false;
};

}  // namespace emio::systemd
