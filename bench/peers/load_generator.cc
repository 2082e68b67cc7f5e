// SPDX-License-Identifier: MIT
// emio_peer_load: the load generator of the peer benchmark (scripts/bench-peers.sh).
//   emio_peer_load --port P --connections N (--seconds S [--warmup-seconds W] | --requests R)
//                  [--server-pid PID [--count-syscalls]] [--max-seconds M]
// N connections to 127.0.0.1:P, each with one 64-byte request in flight: a request is sent, its echo read
// back whole and compared byte for byte with what was sent, then the next is sent. Every request carries
// other bytes (a pattern of its connection and sequence number), so a server that mixes connections up or
// replays an old buffer is caught.
//   --seconds S: W seconds of warm-up (default 0.5), then S measured seconds, then the requests in flight
//                are finished; figures cover the measured seconds only.
//   --requests R: exactly R requests in all, measured from the first to the last (for callgrind runs,
//                 where the script differences two request counts).
//   --server-pid PID: also reads the server's CPU time and memory at the edges of the measured window
//                 (server_probe.h); --count-syscalls counts its system calls over that window.
//   --max-seconds M (default 120): the whole run's bound; a server that stops echoing fails the run
//                 after 10 s without a reply.
// Prints one line of key=value figures. Exit 0; 1 when the server failed (wrong byte, closed connection,
// no reply, cannot connect); 2 for a bad command line, with one line on stderr.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cinttypes>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <ctime>

#include "latency_histogram.h"
#include "peer_contract.h"
#include "server_probe.h"

namespace {

using namespace emio_peers;

constexpr const char* name = "emio_peer_load";
constexpr uint32_t message_bytes = 64;
constexpr uint32_t max_connections = 10000;  // the memory pass holds 10,000 idle connections
constexpr int events_per_wait = 256;
constexpr int wait_timeout_ms = 100;
constexpr uint64_t stall_ns = 10'000'000'000;
constexpr uint64_t ns_per_second = 1'000'000'000;
constexpr int exit_ok = 0;
constexpr int exit_failure = 1;
constexpr int exit_usage = 2;

constexpr const char* usage_text =
    "usage: emio_peer_load --port P --connections N (--seconds S [--warmup-seconds W] | --requests R) "
    "[--server-pid PID [--count-syscalls]] [--max-seconds M]";

struct LoadOptions {
  uint16_t port = 0;
  uint32_t connections = 0;
  double seconds = 0;
  double warmup_seconds = 0.5;
  uint64_t requests = 0;
  pid_t server_pid = 0;
  bool count_syscalls = false;
  double max_seconds = 120;
};

uint64_t now_ns() {
  timespec now{};
  ::clock_gettime(CLOCK_MONOTONIC, &now);
  return static_cast<uint64_t>(now.tv_sec) * ns_per_second + static_cast<uint64_t>(now.tv_nsec);
}

uint64_t seconds_to_ns(double seconds) { return static_cast<uint64_t>(seconds * static_cast<double>(ns_per_second)); }

// ---- the command line ----

int usage_error(const char* why, const char* value) {
  std::fprintf(stderr, "%s: %s%s%s (%s)\n", name, why, value != nullptr ? ": " : "", value != nullptr ? value : "",
               usage_text);
  return exit_usage;
}

bool parse_whole(const char* text, uint64_t lowest, uint64_t highest, uint64_t* value) {
  if (text == nullptr || *text < '0' || *text > '9') return false;
  char* end = nullptr;
  errno = 0;
  const unsigned long long parsed = std::strtoull(text, &end, 10);
  if (errno != 0 || *end != '\0' || parsed < lowest || parsed > highest) return false;
  *value = parsed;
  return true;
}

bool parse_seconds(const char* text, double lowest, double* value) {
  if (text == nullptr || ((*text < '0' || *text > '9') && *text != '.')) return false;
  char* end = nullptr;
  errno = 0;
  const double parsed = std::strtod(text, &end);
  if (errno != 0 || *end != '\0' || !(parsed >= lowest) || parsed > 86400) return false;
  *value = parsed;
  return true;
}

// Returns -1 when the flag and its value were taken, else the exit code after printing why.
int take_flag(const char* flag, const char* value, LoadOptions* options) {
  uint64_t whole = 0;
  if (std::strcmp(flag, "--port") == 0) {
    if (!parse_whole(value, 1, 65535, &whole)) return usage_error("--port takes 1 to 65535", value);
    options->port = static_cast<uint16_t>(whole);
  } else if (std::strcmp(flag, "--connections") == 0) {
    if (!parse_whole(value, 1, max_connections, &whole)) return usage_error("--connections takes 1 to 10000", value);
    options->connections = static_cast<uint32_t>(whole);
  } else if (std::strcmp(flag, "--requests") == 0) {
    if (!parse_whole(value, 1, uint64_t{1} << 40, &whole)) return usage_error("--requests takes a count", value);
    options->requests = whole;
  } else if (std::strcmp(flag, "--server-pid") == 0) {
    if (!parse_whole(value, 1, 1U << 22, &whole)) return usage_error("--server-pid takes a process id", value);
    options->server_pid = static_cast<pid_t>(whole);
  } else if (std::strcmp(flag, "--seconds") == 0) {
    if (!parse_seconds(value, 0.01, &options->seconds)) return usage_error("--seconds takes 0.01 or more", value);
  } else if (std::strcmp(flag, "--warmup-seconds") == 0) {
    if (!parse_seconds(value, 0, &options->warmup_seconds))
      return usage_error("--warmup-seconds takes 0 or more", value);
  } else if (std::strcmp(flag, "--max-seconds") == 0) {
    if (!parse_seconds(value, 1, &options->max_seconds)) return usage_error("--max-seconds takes 1 or more", value);
  } else {
    return usage_error("unknown flag", flag);
  }
  return -1;
}

int parse_options(int argc, char** argv, LoadOptions* options) {
  for (int i = 1; i < argc; ++i) {
    if (std::strcmp(argv[i], "--count-syscalls") == 0) {
      options->count_syscalls = true;
      continue;
    }
    if (i + 1 == argc) return usage_error("a value is missing after", argv[i]);
    if (const int code = take_flag(argv[i], argv[i + 1], options); code >= 0) return code;
    ++i;
  }
  if (options->port == 0 || options->connections == 0)
    return usage_error("--port and --connections are required", nullptr);
  if ((options->seconds > 0) == (options->requests > 0))
    return usage_error("give --seconds or --requests, not both", nullptr);
  if (options->count_syscalls && options->server_pid == 0)
    return usage_error("--count-syscalls needs --server-pid", nullptr);
  if (options->requests > 0) options->warmup_seconds = 0;
  return -1;
}

// ---- the load ----

struct ClientConnection {
  int fd = -1;
  uint32_t sequence = 0;  // of the request in flight
  uint32_t received_bytes = 0;
  bool in_flight = false;
  uint64_t sent_at_ns = 0;
  unsigned char expected[message_bytes];
};

// The bytes of request `sequence` on connection `index`: every request differs from its neighbours in
// every byte position, and a byte's value depends on its position.
void fill_message(uint32_t index, uint32_t sequence, unsigned char* message) {
  uint32_t state = (index + 1) * 2654435761U ^ (sequence + 1) * 40503U;
  for (uint32_t offset = 0; offset < message_bytes; ++offset) {
    state = state * 1103515245U + 12345U;
    message[offset] = static_cast<unsigned char>(state >> 24);
  }
}

enum class Phase { warming_up, measuring, draining };

struct Window {
  uint64_t start_ns = 0;
  uint64_t end_ns = 0;
  uint64_t completed_at_start = 0;
  uint64_t completed_at_end = 0;
  ServerSample server_at_start;
  ServerSample server_at_end;
};

class LoadRun {
 public:
  explicit LoadRun(const LoadOptions& options) : options_(options), probe_(options.server_pid) {}
  ~LoadRun();
  LoadRun(const LoadRun&) = delete;
  LoadRun& operator=(const LoadRun&) = delete;

  int run();

 private:
  bool connect_all();
  bool send_request(uint32_t index, uint64_t now);
  bool on_readable(uint32_t index, uint64_t now);
  bool issuing() const;
  void advance_phase(uint64_t now);
  void open_window(uint64_t now);
  void close_window(uint64_t now);
  bool fail(const char* what, uint32_t index);
  int stop_with(const char* what) {
    (void)fail(what, 0);
    return exit_failure;
  }
  void print_figures() const;

  LoadOptions options_;
  ServerProbe probe_;
  int poller_ = -1;
  Phase phase_ = Phase::warming_up;
  uint64_t measure_from_ns_ = 0;
  uint64_t stop_at_ns_ = 0;
  uint64_t issued_ = 0;
  uint64_t completed_ = 0;
  uint64_t bytes_checked_ = 0;
  uint32_t in_flight_ = 0;
  int64_t idle_rss_kib_ = -1;
  Window window_;
  LatencyHistogram latencies_;
  ClientConnection connections_[max_connections];
};

LoadRun::~LoadRun() {
  for (ClientConnection& connection : connections_) {
    if (connection.fd >= 0) ::close(connection.fd);
  }
  if (poller_ >= 0) ::close(poller_);
}

bool LoadRun::fail(const char* what, uint32_t index) {
  std::fprintf(stderr, "%s: %s (connection %u of %u, port %u)\n", name, what, index, options_.connections,
               options_.port);
  return false;
}

bool LoadRun::connect_all() {
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  address.sin_port = htons(options_.port);
  poller_ = ::epoll_create1(EPOLL_CLOEXEC);
  if (poller_ < 0) return fail("epoll_create1 failed", 0);
  for (uint32_t index = 0; index < options_.connections; ++index) {
    const int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0) return fail("cannot open a socket (too many open files?)", index);
    connections_[index].fd = fd;
    const int yes = 1;
    (void)::setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &yes, sizeof yes);
    if (::connect(fd, reinterpret_cast<const sockaddr*>(&address), sizeof address) != 0) {
      return fail(std::strerror(errno), index);
    }
    epoll_event event{};
    event.events = EPOLLIN;
    event.data.u32 = index;
    if (::epoll_ctl(poller_, EPOLL_CTL_ADD, fd, &event) != 0) return fail("epoll_ctl failed", index);
  }
  return true;
}

bool LoadRun::issuing() const {
  if (options_.requests > 0) return issued_ < options_.requests;
  return phase_ != Phase::draining;
}

bool LoadRun::send_request(uint32_t index, uint64_t now) {
  ClientConnection& connection = connections_[index];
  connection.sequence += 1;
  fill_message(index, connection.sequence, connection.expected);
  const ssize_t sent = ::send(connection.fd, connection.expected, message_bytes, MSG_NOSIGNAL | MSG_DONTWAIT);
  if (sent != static_cast<ssize_t>(message_bytes)) return fail("the request could not be sent whole", index);
  connection.received_bytes = 0;
  connection.sent_at_ns = now;
  connection.in_flight = true;
  issued_ += 1;
  in_flight_ += 1;
  return true;
}

bool LoadRun::on_readable(uint32_t index, uint64_t now) {
  ClientConnection& connection = connections_[index];
  unsigned char received[message_bytes];
  const uint32_t awaited = message_bytes - connection.received_bytes;
  const ssize_t got = ::recv(connection.fd, received, connection.in_flight ? awaited : 1, MSG_DONTWAIT);
  if (got < 0 && (errno == EAGAIN || errno == EINTR)) return true;
  if (got == 0) return fail("the server closed the connection", index);
  if (got < 0) return fail(std::strerror(errno), index);
  if (!connection.in_flight) return fail("the server sent bytes nobody asked for", index);
  if (std::memcmp(received, connection.expected + connection.received_bytes, static_cast<size_t>(got)) != 0) {
    return fail("the echo differs from the request", index);
  }
  connection.received_bytes += static_cast<uint32_t>(got);
  bytes_checked_ += static_cast<uint64_t>(got);
  if (connection.received_bytes < message_bytes) return true;
  connection.in_flight = false;
  in_flight_ -= 1;
  completed_ += 1;
  if (phase_ == Phase::measuring) latencies_.record(now - connection.sent_at_ns);
  return !issuing() || send_request(index, now);
}

void LoadRun::open_window(uint64_t now) {
  if (options_.count_syscalls) probe_.enable_syscall_counters();
  if (options_.server_pid != 0) window_.server_at_start = probe_.sample();
  window_.start_ns = now;
  window_.completed_at_start = completed_;
  phase_ = Phase::measuring;
}

void LoadRun::close_window(uint64_t now) {
  window_.end_ns = now;
  window_.completed_at_end = completed_;
  if (options_.server_pid != 0) window_.server_at_end = probe_.sample();
  if (options_.count_syscalls) probe_.disable_syscall_counters();
  phase_ = Phase::draining;
}

void LoadRun::advance_phase(uint64_t now) {
  if (options_.requests > 0) return;  // the window is the whole run
  if (phase_ == Phase::warming_up && now >= measure_from_ns_) open_window(now);
  if (phase_ == Phase::measuring && now >= stop_at_ns_) close_window(now);
}

int LoadRun::run() {
  if (options_.server_pid != 0) idle_rss_kib_ = probe_.resident_kib();
  if (!connect_all()) return exit_failure;
  if (options_.count_syscalls && !probe_.open_syscall_counters()) options_.count_syscalls = false;
  const uint64_t start = now_ns();
  const uint64_t deadline = start + seconds_to_ns(options_.max_seconds);
  measure_from_ns_ = start + seconds_to_ns(options_.warmup_seconds);
  stop_at_ns_ = measure_from_ns_ + seconds_to_ns(options_.seconds);
  if (options_.requests > 0) open_window(start);
  for (uint32_t index = 0; index < options_.connections && issuing(); ++index) {
    if (!send_request(index, start)) return exit_failure;
  }
  uint64_t last_reply_ns = start;
  epoll_event events[events_per_wait];
  while (in_flight_ > 0) {
    const int ready = ::epoll_wait(poller_, events, events_per_wait, wait_timeout_ms);
    if (ready < 0 && errno != EINTR) return stop_with("epoll_wait failed");
    const uint64_t now = now_ns();
    if (now > deadline) return stop_with("--max-seconds ran out before the run ended");
    if (ready > 0) last_reply_ns = now;
    if (now - last_reply_ns > stall_ns) return stop_with("no echo for 10 s");
    advance_phase(now);
    for (int i = 0; i < ready; ++i) {
      if (!on_readable(events[i].data.u32, now)) return exit_failure;
    }
  }
  if (options_.requests > 0) close_window(now_ns());
  print_figures();
  return exit_ok;
}

void LoadRun::print_figures() const {
  const uint64_t requests = window_.completed_at_end - window_.completed_at_start;
  const double seconds = static_cast<double>(window_.end_ns - window_.start_ns) / static_cast<double>(ns_per_second);
  std::printf("connections=%u requests=%" PRIu64 " seconds=%.4f requests_per_s=%.0f", options_.connections, requests,
              seconds, seconds > 0 ? static_cast<double>(requests) / seconds : 0.0);
  std::printf(" p50_us=%.2f p99_us=%.2f bytes_checked=%" PRIu64,
              static_cast<double>(latencies_.quantile_ns(0.50)) / 1e3,
              static_cast<double>(latencies_.quantile_ns(0.99)) / 1e3, bytes_checked_);
  const ServerSample& before = window_.server_at_start;
  const ServerSample& after = window_.server_at_end;
  const int64_t syscalls = after.syscalls < 0 ? -1 : after.syscalls - (before.syscalls < 0 ? 0 : before.syscalls);
  std::printf(" server_cpu_ns=%" PRIu64 " server_user_ticks=%" PRIu64 " server_system_ticks=%" PRIu64
              " server_syscalls=%" PRId64 " server_threads=%u",
              after.cpu_ns - before.cpu_ns, after.user_ticks - before.user_ticks,
              after.system_ticks - before.system_ticks, syscalls, after.threads);
  // Read with every connection still open: the memory pass divides the growth by the connections.
  const bool probed = options_.server_pid != 0;
  std::printf(" server_idle_rss_kib=%" PRId64 " server_rss_kib=%" PRId64 " server_peak_rss_kib=%" PRId64 "\n",
              idle_rss_kib_, probed ? probe_.resident_kib() : -1, probed ? probe_.peak_resident_kib() : -1);
}

}  // namespace

int main(int argc, char** argv) {
  LoadOptions options;
  if (const int code = parse_options(argc, argv, &options); code >= 0) return code;
  raise_open_file_limit();
  static LoadRun run(options);  // static storage: 10,000 connections and a histogram are too big for the stack
  return run.run();
}
