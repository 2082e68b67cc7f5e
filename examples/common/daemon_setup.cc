// SPDX-License-Identifier: MIT
#include "common/daemon_setup.h"

#include <sys/resource.h>

#include <cinttypes>
#include <csignal>
#include <cstdio>

#include "emio/port/log.h"
#include "emio/runtime/systemd.h"

#include "common/command_line.h"

namespace emio_examples {

bool parse_address_flag(const char* program, const char* flag, const char* text, emio::SocketAddress* address) {
  emio::Result<emio::SocketAddress> parsed = emio::SocketAddress::parse(text);
  if (!parsed.ok() || !parsed.value().is_ip()) {
    (void)usage_error(program, "--%s: '%s' is not ADDR:PORT (numbers only, e.g. 127.0.0.1:7000)", flag, text);
    return false;
  }
  *address = parsed.value();
  return true;
}

bool parse_backend_flag(const char* program, const char* text, emio::BackendChoice* choice) {
  *choice = emio::BackendChoice::automatic;
  if (text == nullptr) return true;
  if (emio::parse_backend_choice(text, *choice).failed()) {
    (void)usage_error(program, "--backend: '%s' is not a backend (automatic, epoll, uring, uring-sqpoll, kqueue)",
                      text);
    return false;
  }
  if (!emio::backend_choice_compiled_in(*choice)) {
    (void)usage_error(program, "--backend: '%s' is not compiled into this build (EMIO_BACKEND)", text);
    return false;
  }
  return true;
}

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

emio::ExecutorConfig executor_config(emio::BackendChoice backend, uint32_t connection_capacity,
                                     uint32_t extra_sources) {
  emio::ExecutorConfig config;
  config.driver.backend = backend;
  // One registration per connection and per extra source, and one for a connection accepted past the
  // limit while it is being closed.
  config.driver.registration_capacity = connection_capacity + extra_sources + 1;
  config.driver.event_capacity = 64;
  config.task_capacity = connection_capacity + extra_sources + 4;
  config.frame_count = connection_capacity + extra_sources + 4;
  config.timer_capacity = 16;
  config.inbox_capacity = 4;
  return config;
}

namespace {

// The library's notes (an io_uring fallback, say) are part of the start-up report on stdout, beside the
// backend line; only errors go to stderr, which stays for the daemon's own one-line failures.
void print_library_message(emio::LogLevel level, const char* message, void* context) {
  std::FILE* stream = level == emio::LogLevel::error ? stderr : stdout;
  std::fprintf(stream, "%s: %s\n", static_cast<const char*>(context), message);
}

}  // namespace

bool start_executor(const char* program, emio::Executor& executor, const emio::ExecutorConfig& config) {
  (void)std::signal(SIGPIPE, SIG_IGN);
  std::setvbuf(stdout, nullptr, _IOLBF, 0);
  emio::set_log_hook(print_library_message, const_cast<char*>(program));
  const emio::Error error = executor.init(config);
  if (error.failed()) {
    std::fprintf(stderr, "%s: cannot start: %s (%s)\n", program, error.name(), error.description());
    return false;
  }
  std::printf("%s: backend %s\n", program, executor.backend_name());
  return true;
}

bool bind_listener(const char* program, emio::Executor& executor, const emio::SocketAddress& address,
                   emio::TcpListener* listener) {
  emio::Result<emio::TcpListener> bound = emio::TcpListener::bind(executor.handle(), address);
  if (bound.ok()) {
    *listener = std::move(bound.value());
    return true;
  }
  char text[emio::SocketAddress::max_text_bytes];
  (void)address.format(text);
  std::fprintf(stderr, "%s: cannot listen on %s: %s (%s)\n", program, text, bound.error().name(),
               bound.error().description());
  return false;
}

int exit_code_after_run(const char* program, emio::Error ran) {
  if (ran.ok()) return exit_ok;
  std::fprintf(stderr, "%s: %s (%s)\n", program, ran.name(), ran.description());
  return exit_failure;
}

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

void print_bound_address(const char* program, const char* what, const emio::TcpListener& listener) {
  char text[emio::SocketAddress::max_text_bytes] = "?";
  emio::Result<emio::SocketAddress> bound = listener.local_address();
  if (bound.ok()) (void)bound.value().format(text);
  std::printf("%s: %s on %s\n", program, what, text);
}

}  // namespace emio_examples
