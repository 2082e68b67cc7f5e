// SPDX-License-Identifier: MIT
#include "emio/runtime/systemd.h"

#include <fcntl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <cerrno>
#include <cstdint>
#include <cstdlib>
#include <cstring>

#include "emio/port/log.h"

namespace emio::systemd {
namespace {

// A decimal environment variable, or `fallback` when it is absent or not a plain number: digits only, as
// systemd writes them ("-1", " 2" or "+2" would pass strtoull, and "-1" would read as 2^64 - 1).
uint64_t environment_number(const char* name, uint64_t fallback) {
  const char* text = std::getenv(name);
  if (text == nullptr || *text < '0' || *text > '9') return fallback;
  char* end = nullptr;
  errno = 0;
  const unsigned long long value = std::strtoull(text, &end, 10);
  return errno != 0 || *end != '\0' ? fallback : value;
}

// The variable names this process (LISTEN_PID, WATCHDOG_PID): a variable for a parent that exec'd us
// without clearing it must be ignored. Absent counts as "this process" only when `absent_is_us`.
bool names_this_process(const char* name, bool absent_is_us) {
  const uint64_t pid = environment_number(name, 0);
  if (pid == 0) return absent_is_us && std::getenv(name) == nullptr;
  return pid == static_cast<uint64_t>(::getpid());
}

uint64_t taken_listen_fds = 0;  // bit per index already handed out; checked in listen_fd
static_assert(max_listen_fds <= 64, "taken_listen_fds has a bit per index");

// Whether `fd` is open and something systemd passes (a socket, FIFO, device, regular or mqueue file). An
// anonymous inode (epoll, io_uring, eventfd, signalfd) has no file type: it is never passed, it is ours,
// opened at a number LISTEN_FDS claimed although nothing was passed there. Adopting it would close it.
bool is_passable_fd(int fd) {
  struct stat status {};
  return ::fstat(fd, &status) == 0 && (status.st_mode & S_IFMT) != 0;
}

}  // namespace

uint32_t listen_fd_count() {
  if (!names_this_process("LISTEN_PID", false)) return 0;
  const uint64_t count = environment_number("LISTEN_FDS", 0);
  if (count > max_listen_fds) {
    log_message(LogLevel::error, "LISTEN_FDS=%llu is more than %u: ignored", static_cast<unsigned long long>(count),
                max_listen_fds);
    return 0;
  }
  return static_cast<uint32_t>(count);
}

Fd listen_fd(uint32_t index) {
  if (index >= listen_fd_count()) return Fd();
  const uint64_t bit = uint64_t{1} << index;
  if ((taken_listen_fds & bit) != 0) return Fd();
  const int fd = first_listen_fd + static_cast<int>(index);
  if (!is_passable_fd(fd)) {
    log_message(LogLevel::error, "LISTEN_FDS counts fd %d, which was not passed: ignored", fd);
    return Fd();
  }
  taken_listen_fds |= bit;
  // systemd passes them inheritable; our children need not see them. It cannot fail on an open fd.
  (void)::fcntl(fd, F_SETFD, FD_CLOEXEC);
  return Fd(fd);
}

int listen_fd_index(const char* name) {
  const char* names = std::getenv("LISTEN_FDNAMES");
  const uint32_t count = listen_fd_count();
  if (names == nullptr || name == nullptr) return -1;
  const size_t name_length = std::strlen(name);
  uint32_t index = 0;
  for (const char* cursor = names; index < count; ++index) {
    const char* colon = std::strchr(cursor, ':');
    const size_t length = colon != nullptr ? static_cast<size_t>(colon - cursor) : std::strlen(cursor);
    if (length == name_length && std::strncmp(cursor, name, length) == 0) return static_cast<int>(index);
    if (colon == nullptr) break;
    cursor = colon + 1;
  }
  return -1;
}

Error notify(const char* state) {
  const char* path = std::getenv("NOTIFY_SOCKET");
  if (path == nullptr || *path == '\0') return Error{};
  sockaddr_un address{};
  address.sun_family = AF_UNIX;
  const size_t path_length = std::strlen(path);
  if ((path[0] != '/' && path[0] != '@') || path_length >= sizeof address.sun_path) return Error::from_errno(EINVAL);
  std::memcpy(address.sun_path, path, path_length);
  if (path[0] == '@') address.sun_path[0] = '\0';  // an abstract name
  const auto address_length = static_cast<socklen_t>(offsetof(sockaddr_un, sun_path) + path_length);
  // systemd is Linux's; elsewhere (macOS, the BSDs, no NOTIFY_SOCKET) this is only compiled.
#ifdef SOCK_CLOEXEC
  const Fd socket_fd(::socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0));
#else
  const Fd socket_fd(::socket(AF_UNIX, SOCK_DGRAM, 0));
#endif
  if (!socket_fd.valid()) return Error::last_os_error();
#ifdef MSG_NOSIGNAL
  constexpr int send_flags = MSG_NOSIGNAL;
#else
  constexpr int send_flags = 0;
#endif
  const ssize_t sent = ::sendto(socket_fd.get(), state, std::strlen(state), send_flags,
                                reinterpret_cast<const sockaddr*>(&address), address_length);
  return sent < 0 ? Error::last_os_error() : Error{};
}

uint64_t watchdog_interval_us() {
  if (!names_this_process("WATCHDOG_PID", true)) return 0;
  return environment_number("WATCHDOG_USEC", 0);
}

Error Watchdog::start(Executor& executor) {
  const uint64_t interval_us = watchdog_interval_us();
  if (interval_us == 0) return Error{};
  // Half the interval, as sd_watchdog_enabled(3) advises; at least 1 ms, and at most what a timer's
  // period holds (49.7 days): pinging more often than asked is always safe.
  const uint64_t half_interval_ms = interval_us / 2000;
  const uint32_t period_ms = half_interval_ms == 0           ? 1
                             : half_interval_ms > UINT32_MAX ? UINT32_MAX
                                                             : static_cast<uint32_t>(half_interval_ms);
  const Error started = executor.timers().start_periodic(timer_, period_ms, &Watchdog::on_timer, this);
  running_ = started.ok();
  if (running_) on_timer(timer_, this);  // the first ping at once
  return started;
}

void Watchdog::on_timer(Timer&, void* self) {
  auto* watchdog = static_cast<Watchdog*>(self);
  if (notify("WATCHDOG=1").ok()) watchdog->pings_sent_ += 1;
}

}  // namespace emio::systemd
