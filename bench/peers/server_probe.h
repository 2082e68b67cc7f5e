// SPDX-License-Identifier: MIT
// What the load generator reads of the server under test while it loads it, from /proc and perf events:
// CPU time (every thread of the process, SQPOLL's kernel thread included: it is one of the process's
// tasks), resident memory, and system calls (the raw_syscalls:sys_enter tracepoint counted on each of the
// server's threads). Reading happens only at the edges of the measured window, never per request.
#pragma once

#include <sys/types.h>

#include <cstdint>

namespace emio_peers {

struct ServerSample {
  uint64_t cpu_ns = 0;        // sum over the server's threads of /proc/PID/task/TID/schedstat (run time)
  uint64_t user_ticks = 0;    // /proc/PID/stat utime, clock ticks (all threads)
  uint64_t system_ticks = 0;  // /proc/PID/stat stime
  uint32_t threads = 0;
  int64_t syscalls = -1;  // since the counters were enabled; -1 when they could not be opened
};

class ServerProbe {
 public:
  static constexpr uint32_t max_threads = 64;

  explicit ServerProbe(pid_t pid) : pid_(pid) {}
  ~ServerProbe();
  ServerProbe(const ServerProbe&) = delete;
  ServerProbe& operator=(const ServerProbe&) = delete;

  // VmRSS or VmHWM (peak) of the server, in KiB; -1 when unreadable.
  int64_t resident_kib() const { return status_kib("VmRSS:"); }
  int64_t peak_resident_kib() const { return status_kib("VmHWM:"); }

  // Opens one disabled system-call counter per server thread. False (with a line on stderr saying why)
  // when the kernel refuses: the samples then carry syscalls = -1.
  bool open_syscall_counters();
  void enable_syscall_counters();
  void disable_syscall_counters();

  ServerSample sample() const;

 private:
  int64_t status_kib(const char* field) const;

  pid_t pid_;
  int counters_[max_threads] = {};
  uint32_t counter_count_ = 0;
};

}  // namespace emio_peers
