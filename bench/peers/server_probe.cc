// SPDX-License-Identifier: MIT
#include "server_probe.h"

#include <dirent.h>
#include <linux/perf_event.h>
#include <sys/ioctl.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cerrno>
#include <cinttypes>
#include <cstdio>
#include <cstdlib>
#include <cstring>

namespace emio_peers {
namespace {

constexpr const char* tracepoint_id_paths[] = {
    "/sys/kernel/tracing/events/raw_syscalls/sys_enter/id",
    "/sys/kernel/debug/tracing/events/raw_syscalls/sys_enter/id",
};

// The perf id of raw_syscalls:sys_enter, or -1 when tracefs is not mounted.
int64_t sys_enter_tracepoint_id() {
  for (const char* path : tracepoint_id_paths) {
    FILE* file = std::fopen(path, "r");
    if (file == nullptr) continue;
    long long id = -1;
    const int matched = std::fscanf(file, "%lld", &id);
    std::fclose(file);
    if (matched == 1) return id;
  }
  return -1;
}

int open_counter(uint64_t tracepoint_id, pid_t thread) {
  perf_event_attr attributes{};
  attributes.type = PERF_TYPE_TRACEPOINT;
  attributes.size = sizeof attributes;
  attributes.config = tracepoint_id;
  attributes.disabled = 1;
  return static_cast<int>(::syscall(SYS_perf_event_open, &attributes, thread, -1, -1, PERF_FLAG_FD_CLOEXEC));
}

// Calls `visit(tid)` for each thread of `pid`, at most `limit` of them; returns how many it visited.
template <typename Visit>
uint32_t for_each_thread(pid_t pid, uint32_t limit, Visit visit) {
  char path[64];
  std::snprintf(path, sizeof path, "/proc/%d/task", static_cast<int>(pid));
  DIR* tasks = ::opendir(path);
  if (tasks == nullptr) return 0;
  uint32_t visited = 0;
  while (const dirent* entry = ::readdir(tasks)) {
    if (entry->d_name[0] < '0' || entry->d_name[0] > '9') continue;
    if (visited == limit) break;
    visit(static_cast<pid_t>(std::strtol(entry->d_name, nullptr, 10)));
    ++visited;
  }
  ::closedir(tasks);
  return visited;
}

uint64_t thread_run_ns(pid_t pid, pid_t thread) {
  char path[96];
  std::snprintf(path, sizeof path, "/proc/%d/task/%d/schedstat", static_cast<int>(pid), static_cast<int>(thread));
  FILE* file = std::fopen(path, "r");
  if (file == nullptr) return 0;  // the thread ended meanwhile
  unsigned long long run_ns = 0;
  if (std::fscanf(file, "%llu", &run_ns) != 1) run_ns = 0;
  std::fclose(file);
  return run_ns;
}

// utime and stime of /proc/PID/stat (fields 14 and 15, after the parenthesised command name).
void read_ticks(pid_t pid, ServerSample* sample) {
  char path[64];
  std::snprintf(path, sizeof path, "/proc/%d/stat", static_cast<int>(pid));
  FILE* file = std::fopen(path, "r");
  if (file == nullptr) return;
  char line[1024] = {};
  const bool read = std::fgets(line, sizeof line, file) != nullptr;
  std::fclose(file);
  const char* after_name = read ? std::strrchr(line, ')') : nullptr;
  if (after_name == nullptr) return;
  unsigned long long user = 0;
  unsigned long long system = 0;
  // Fields 3 to 13 are skipped; utime and stime follow.
  if (std::sscanf(after_name + 1, " %*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %llu %llu", &user, &system) == 2) {
    sample->user_ticks = user;
    sample->system_ticks = system;
  }
}

}  // namespace

ServerProbe::~ServerProbe() {
  for (uint32_t i = 0; i < counter_count_; ++i) ::close(counters_[i]);
}

int64_t ServerProbe::status_kib(const char* field) const {
  char path[64];
  std::snprintf(path, sizeof path, "/proc/%d/status", static_cast<int>(pid_));
  FILE* file = std::fopen(path, "r");
  if (file == nullptr) return -1;
  char line[256];
  int64_t kib = -1;
  const size_t field_length = std::strlen(field);
  while (std::fgets(line, sizeof line, file) != nullptr) {
    if (std::strncmp(line, field, field_length) == 0) {
      kib = std::strtoll(line + field_length, nullptr, 10);
      break;
    }
  }
  std::fclose(file);
  return kib;
}

bool ServerProbe::open_syscall_counters() {
  const int64_t id = sys_enter_tracepoint_id();
  if (id < 0) {
    std::fprintf(stderr, "emio_peer_load: raw_syscalls:sys_enter not found (is tracefs mounted?)\n");
    return false;
  }
  int refused_errno = 0;
  for_each_thread(pid_, max_threads, [&](pid_t thread) {
    const int fd = open_counter(static_cast<uint64_t>(id), thread);
    if (fd < 0) {
      refused_errno = errno;
      return;
    }
    counters_[counter_count_++] = fd;
  });
  if (refused_errno != 0 || counter_count_ == 0) {
    std::fprintf(stderr, "emio_peer_load: cannot count the server's system calls: perf_event_open: %s\n",
                 std::strerror(refused_errno != 0 ? refused_errno : ESRCH));
    return false;
  }
  return true;
}

void ServerProbe::enable_syscall_counters() {
  for (uint32_t i = 0; i < counter_count_; ++i) (void)::ioctl(counters_[i], PERF_EVENT_IOC_ENABLE, 0);
}

void ServerProbe::disable_syscall_counters() {
  for (uint32_t i = 0; i < counter_count_; ++i) (void)::ioctl(counters_[i], PERF_EVENT_IOC_DISABLE, 0);
}

ServerSample ServerProbe::sample() const {
  ServerSample sample;
  sample.threads =
      for_each_thread(pid_, max_threads, [&](pid_t thread) { sample.cpu_ns += thread_run_ns(pid_, thread); });
  read_ticks(pid_, &sample);
  if (counter_count_ > 0) {
    sample.syscalls = 0;
    for (uint32_t i = 0; i < counter_count_; ++i) {
      uint64_t count = 0;
      if (::read(counters_[i], &count, sizeof count) == static_cast<ssize_t>(sizeof count)) {
        sample.syscalls += static_cast<int64_t>(count);
      }
    }
  }
  return sample;
}

}  // namespace emio_peers
