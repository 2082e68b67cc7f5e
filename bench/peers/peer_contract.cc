// SPDX-License-Identifier: MIT
#include "peer_contract.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/resource.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <cstring>

namespace emio_peers {
namespace {

constexpr unsigned default_max_seconds = 300;
constexpr unsigned longest_max_seconds = 86400;

struct PeerOptions {
  uint16_t port = 0;
  unsigned max_seconds = default_max_seconds;
};

bool parse_number(const char* text, unsigned long highest, unsigned long* value) {
  if (text == nullptr || *text < '0' || *text > '9') return false;
  char* end = nullptr;
  errno = 0;
  *value = std::strtoul(text, &end, 10);
  return errno == 0 && *end == '\0' && *value <= highest;
}

int usage_error(const char* name, const char* why) {
  std::fprintf(stderr, "%s: %s (usage: %s PORT [--max-seconds S])\n", name, why, name);
  return exit_usage;
}

// Returns -1 when the options are good, else the exit code after printing why.
int parse_options(const char* name, int argc, char** argv, PeerOptions* options) {
  if (argc != 2 && argc != 4) return usage_error(name, "expected a port and at most --max-seconds S");
  unsigned long value = 0;
  if (!parse_number(argv[1], 65535, &value)) return usage_error(name, "the port must be a number from 0 to 65535");
  options->port = static_cast<uint16_t>(value);
  if (argc == 4) {
    if (std::strcmp(argv[2], "--max-seconds") != 0) return usage_error(name, "unknown flag");
    if (!parse_number(argv[3], longest_max_seconds, &value) || value == 0) {
      return usage_error(name, "--max-seconds must be a number from 1 to 86400");
    }
    options->max_seconds = static_cast<unsigned>(value);
  }
  return -1;
}

// SIGTERM and SIGINT ask to stop; SIGALRM is the time bound. All three are blocked and read from a
// signalfd, so that the event loops see them as one more readable fd.
int open_stop_fd(unsigned max_seconds) {
  sigset_t stop_signals;
  sigemptyset(&stop_signals);
  sigaddset(&stop_signals, SIGTERM);
  sigaddset(&stop_signals, SIGINT);
  sigaddset(&stop_signals, SIGALRM);
  if (sigprocmask(SIG_BLOCK, &stop_signals, nullptr) != 0) return -1;
  const int fd = signalfd(-1, &stop_signals, SFD_NONBLOCK | SFD_CLOEXEC);
  if (fd >= 0) alarm(max_seconds);
  return fd;
}

// Returns the bound port, or 0 after printing why the listener could not be opened.
uint16_t open_listener(const char* name, uint16_t port, int* listener_fd) {
  const int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  const int yes = 1;
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  address.sin_port = htons(port);
  socklen_t length = sizeof address;
  if (fd < 0 || ::setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &yes, sizeof yes) != 0 ||
      ::bind(fd, reinterpret_cast<sockaddr*>(&address), sizeof address) != 0 || ::listen(fd, listen_backlog) != 0 ||
      ::getsockname(fd, reinterpret_cast<sockaddr*>(&address), &length) != 0) {
    std::fprintf(stderr, "%s: cannot listen on 127.0.0.1:%u: %s\n", name, port, std::strerror(errno));
    if (fd >= 0) ::close(fd);
    return 0;
  }
  *listener_fd = fd;
  return ntohs(address.sin_port);
}

}  // namespace

void raise_open_file_limit() {
  rlimit limit{};
  if (::getrlimit(RLIMIT_NOFILE, &limit) != 0 || limit.rlim_cur >= limit.rlim_max) return;
  limit.rlim_cur = limit.rlim_max;
  (void)::setrlimit(RLIMIT_NOFILE, &limit);
}

int start_peer(const char* name, int argc, char** argv, PeerSockets* sockets) {
  PeerOptions options;
  if (const int code = parse_options(name, argc, argv, &options); code >= 0) return code;
  (void)std::signal(SIGPIPE, SIG_IGN);
  raise_open_file_limit();
  sockets->stop_fd = open_stop_fd(options.max_seconds);
  if (sockets->stop_fd < 0) {
    std::fprintf(stderr, "%s: cannot route the stop signals to a signalfd: %s\n", name, std::strerror(errno));
    return exit_failure;
  }
  const uint16_t bound_port = open_listener(name, options.port, &sockets->listener_fd);
  if (bound_port == 0) return exit_failure;
  std::printf("%s: listening on 127.0.0.1:%u\n", name, bound_port);
  std::fflush(stdout);
  return -1;
}

int exit_code_for_stop(const char* name, int stop_fd) {
  signalfd_siginfo info{};
  if (::read(stop_fd, &info, sizeof info) != static_cast<ssize_t>(sizeof info)) return exit_ok;
  if (info.ssi_signo != SIGALRM) return exit_ok;
  std::fprintf(stderr, "%s: --max-seconds ran out before a SIGTERM came; stopping\n", name);
  return exit_failure;
}

void set_no_delay(int fd) {
  const int yes = 1;
  (void)::setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &yes, sizeof yes);
}

int accept_connection(int listener_fd) {
  const int fd = ::accept4(listener_fd, nullptr, nullptr, SOCK_NONBLOCK | SOCK_CLOEXEC);
  if (fd < 0) return accept_nothing_pending;
  if (fd >= connection_table_fds) {
    ::close(fd);
    return accept_turned_away;
  }
  set_no_delay(fd);
  return fd;
}

}  // namespace emio_peers
