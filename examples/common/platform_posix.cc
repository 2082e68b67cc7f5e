// SPDX-License-Identifier: MIT
// daemon_setup.h's POSIX parts: the open-file limit, SIGPIPE, and systemd (socket activation, sd_notify,
// the watchdog). Windows has none of them: platform_windows.cc.
#include <sys/resource.h>

#include <cinttypes>
#include <csignal>
#include <cstdio>

#include "emio/port/log.h"
#include "emio/runtime/systemd.h"

#include "common/command_line.h"
#include "common/daemon_setup.h"

namespace emio_examples {

bool fit_open_file_limit(const char* program, const char* flag, uint32_t connection_capacity, uint32_t other_fds) {
  const rlim_t needed = rlim_t{connection_capacity} + other_fds;
  rlimit limit{};
  if (::getrlimit(RLIMIT_NOFILE, &limit) != 0 || limit.rlim_cur >= needed) return true;
  if (limit.rlim_max != RLIM_INFINITY && limit.rlim_max < needed) {
    (void)usage_error(program, "--%s %" PRIu32 " needs %ju open files; the hard limit is %ju (ulimit -Hn)", flag,
                      connection_capacity, static_cast<uintmax_t>(needed), static_cast<uintmax_t>(limit.rlim_max));
    return false;
  }
  const rlim_t before = limit.rlim_cur;
  limit.rlim_cur = needed;
  if (::setrlimit(RLIMIT_NOFILE, &limit) != 0) {
    (void)usage_error(program, "--%s %" PRIu32 " needs %ju open files; the limit is %ju and cannot be raised", flag,
                      connection_capacity, static_cast<uintmax_t>(needed), static_cast<uintmax_t>(before));
    return false;
  }
  std::printf("%s: raised the open-file limit from %ju to %ju for --%s %" PRIu32 "\n", program,
              static_cast<uintmax_t>(before), static_cast<uintmax_t>(needed), flag, connection_capacity);
  return true;
}

void ignore_broken_pipes() { (void)std::signal(SIGPIPE, SIG_IGN); }

emio::SignalSet reload_signals() { return emio::SignalSet().with(SIGHUP); }

bool socket_activated() { return emio::systemd::listen_fd_count() > 0; }

bool adopt_activated_listener(const char* program, emio::Executor& executor, const char* fd_name, bool first_if_unnamed,
                              emio::TcpListener* listener, bool* adopted) {
  *adopted = false;
  if (emio::systemd::listen_fd_count() == 0) return true;
  int index = emio::systemd::listen_fd_index(fd_name);
  if (index < 0 && first_if_unnamed) index = 0;
  if (index < 0) return true;
  emio::Result<emio::TcpListener> taken =
      emio::TcpListener::adopt(executor.handle(), emio::systemd::listen_fd(static_cast<uint32_t>(index)));
  if (!taken.ok()) {
    std::fprintf(stderr, "%s: cannot use the socket systemd passed as %s: %s (%s)\n", program, fd_name,
                 taken.error().name(), taken.error().description());
    return false;
  }
  *listener = std::move(taken.value());
  *adopted = true;
  return true;
}

void notify_ready(const char* status) {
  char state[160];
  (void)std::snprintf(state, sizeof state, "READY=1\nSTATUS=%s", status);
  const emio::Error sent = emio::systemd::notify(state);
  if (sent.failed()) emio::log_message(emio::LogLevel::warning, "sd_notify READY: %s", sent.name());
}

void notify_stopping() { (void)emio::systemd::notify("STOPPING=1\nSTATUS=stopping"); }

bool ServiceWatchdog::start(const char* program, emio::Executor& executor) {
  const emio::Error error = watchdog_.start(executor);
  if (error.ok()) return true;
  std::fprintf(stderr, "%s: cannot start the watchdog: %s\n", program, error.name());
  return false;
}

void ServiceWatchdog::stop() { watchdog_.stop(); }

}  // namespace emio_examples
