// SPDX-License-Identifier: MIT
// emio_bench_echo_server --mode M --connections N --port-file F [--max-seconds S]
//   M: epoll (epoll readiness), uring (io_uring readiness), uring-ops (io_uring completion operations),
//      uring-multishot (registered files, multishot accept and recv from a provided buffer ring),
//      bypass (the same with SQPOLL and busy-poll turns: the kernel-bypass mode).
// Listens on 127.0.0.1, writes its port to F, serves until N connections came and went, then prints
//   mode=M backend=B requests=R cpu_us=C
// where C is the whole process's user + system time (the SQPOLL thread included).
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <cstring>

#include "echo_server.h"
#include "emio/port/clock.h"

namespace {

struct Options {
  const char* mode = "epoll";
  uint32_t connections = 1;
  const char* port_file = nullptr;
  uint32_t max_seconds = 120;
};

bool parse(int argc, char** argv, Options& options) {
  for (int i = 1; i + 1 < argc; i += 2) {
    if (std::strcmp(argv[i], "--mode") == 0) {
      options.mode = argv[i + 1];
    } else if (std::strcmp(argv[i], "--connections") == 0) {
      options.connections = static_cast<uint32_t>(std::strtoul(argv[i + 1], nullptr, 10));
    } else if (std::strcmp(argv[i], "--port-file") == 0) {
      options.port_file = argv[i + 1];
    } else if (std::strcmp(argv[i], "--max-seconds") == 0) {
      options.max_seconds = static_cast<uint32_t>(std::strtoul(argv[i + 1], nullptr, 10));
    } else {
      return false;
    }
  }
  return options.port_file != nullptr && options.connections > 0 && options.connections <= emio_bench::max_connections;
}

// The driver each mode runs on; false for an unknown mode.
bool config_for(const char* mode, uint32_t connections, emio::DriverConfig& config) {
  config.registration_capacity = connections + 8;
  config.event_capacity = 256;
  config.operation_capacity = 2 * connections + 8;
  config.uring.sq_entries = 1024;  // a CQ of 2048: every operation in flight fits
  if (std::strcmp(mode, "epoll") == 0) {
    config.backend = emio::BackendChoice::epoll;
  } else if (std::strcmp(mode, "uring") == 0 || std::strcmp(mode, "uring-ops") == 0) {
    config.backend = emio::BackendChoice::uring;
  } else if (std::strcmp(mode, "uring-multishot") == 0 || std::strcmp(mode, "bypass") == 0) {
    const bool sqpoll = std::strcmp(mode, "bypass") == 0;
    config.backend = sqpoll ? emio::BackendChoice::uring_sqpoll : emio::BackendChoice::uring;
    config.uring.registered_file_capacity = connections + 8;
    config.uring.busy_poll_budget_us = sqpoll ? 50 : 0;
    config.receive_buffers = {2048, 256};
  } else {
    return false;
  }
  return true;
}

int listen_on_loopback(const char* port_file) {
  const int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  const int yes = 1;
  (void)::setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &yes, sizeof yes);
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t length = sizeof address;
  if (fd < 0 || ::bind(fd, reinterpret_cast<sockaddr*>(&address), sizeof address) < 0 || ::listen(fd, 1024) < 0 ||
      ::getsockname(fd, reinterpret_cast<sockaddr*>(&address), &length) < 0) {
    return -1;
  }
  FILE* file = std::fopen(port_file, "w");
  if (file == nullptr) return -1;
  std::fprintf(file, "%u\n", ntohs(address.sin_port));
  std::fclose(file);
  return fd;
}

uint64_t cpu_us() {
  rusage usage{};
  (void)::getrusage(RUSAGE_SELF, &usage);
  return static_cast<uint64_t>(usage.ru_utime.tv_sec + usage.ru_stime.tv_sec) * 1000000u +
         static_cast<uint64_t>(usage.ru_utime.tv_usec + usage.ru_stime.tv_usec);
}

}  // namespace

namespace emio_bench {

void turn_until_done(const ServerSetup& setup, uint64_t deadline_ms) {
  while (setup.counters->closed < setup.connections && emio::monotonic_now_ms() < deadline_ms) {
    (void)setup.driver->turn(100);
  }
}

}  // namespace emio_bench

int main(int argc, char** argv) {
  Options options;
  emio::DriverConfig config;
  if (!parse(argc, argv, options) || !config_for(options.mode, options.connections, config)) {
    std::fprintf(stderr,
                 "usage: emio_bench_echo_server --mode epoll|uring|uring-ops|uring-multishot|bypass --connections N "
                 "--port-file F [--max-seconds S]\n");
    return 2;
  }
  static emio::Driver driver;
  if (emio::Error error = driver.init(config); error.failed()) {
    std::fprintf(stderr, "echo server: driver init failed: %s\n", error.name());
    return 1;
  }
  const int listener = listen_on_loopback(options.port_file);
  if (listener < 0) {
    std::perror("echo server: listen");
    return 1;
  }
  static emio_bench::EchoCounters counters;
  const emio_bench::ServerSetup setup{&driver, listener, options.connections, &counters};
  const uint64_t deadline_ms = emio::monotonic_now_ms() + uint64_t{options.max_seconds} * 1000u;
  if (std::strcmp(options.mode, "epoll") == 0 || std::strcmp(options.mode, "uring") == 0) {
    emio_bench::run_readiness_server(setup);
  } else {
    emio_bench::run_operations_server(setup, std::strcmp(options.mode, "uring-ops") != 0);
  }
  emio_bench::turn_until_done(setup, deadline_ms);
  std::printf("mode=%s backend=%s requests=%llu cpu_us=%llu closed=%u\n", options.mode, driver.backend_name(),
              static_cast<unsigned long long>(counters.bytes_echoed / emio_bench::message_bytes),
              static_cast<unsigned long long>(cpu_us()), counters.closed);
  driver.shutdown();
  ::close(listener);
  return counters.closed == options.connections ? 0 : 1;
}
