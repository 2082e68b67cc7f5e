// SPDX-License-Identifier: MIT
#include "common/daemon_setup.h"

#include <cinttypes>
#include <cstdio>

#include "emio/port/log.h"

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
  ignore_broken_pipes();
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

void print_bound_address(const char* program, const char* what, const emio::TcpListener& listener) {
  char text[emio::SocketAddress::max_text_bytes] = "?";
  emio::Result<emio::SocketAddress> bound = listener.local_address();
  if (bound.ok()) (void)bound.value().format(text);
  std::printf("%s: %s on %s\n", program, what, text);
}

}  // namespace emio_examples
