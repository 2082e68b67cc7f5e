// SPDX-License-Identifier: MIT
// emio_bench_dispatch: the ping-pong of ping_pong.h through one loop: raw epoll, the emio driver, or the
// waker contract's floor (contract_floor_loop.h). Prints one line of key=value pairs;
// scripts/bench-dispatch.sh runs the loops natively and under callgrind and turns the lines into a table.
#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>

#include "contract_floor_loop.h"
#include "driver_loop.h"
#include "emio/port/clock.h"
#include "measured_region.h"
#include "ping_pong.h"
#include "raw_epoll_loop.h"

namespace emio_bench {
namespace {

struct Options {
  const char* mode = "driver";
  // The backend the driver runs; epoll by default, so that it is compared with its raw peer like for like.
  emio::BackendChoice backend = emio::BackendChoice::epoll;
  uint32_t pairs = 64;
  uint32_t round_trips = 500;
  // Run before measuring, so that lazy symbol binding and first-touch page faults are not counted.
  uint32_t warmup_round_trips = 20;
};

void print_usage() {
  std::fprintf(
      stderr,
      "usage: emio_bench_dispatch [--mode raw|driver|contract-floor] [--backend epoll|uring] [--pairs N (1-%u)]\n"
      "                           [--round-trips R] [--warmup-round-trips W]\n",
      max_pairs);
}

bool parse_count(const char* text, uint32_t& count) {
  char* end = nullptr;
  errno = 0;
  const unsigned long value = std::strtoul(text, &end, 10);
  if (errno != 0 || end == text || *end != '\0' || value == 0 || value > 0xFFFFFFFFul) return false;
  count = static_cast<uint32_t>(value);
  return true;
}

bool parse_options(int argc, char** argv, Options& options) {
  for (int i = 1; i + 1 < argc; i += 2) {
    const char* flag = argv[i];
    const char* value = argv[i + 1];
    if (std::strcmp(flag, "--mode") == 0) {
      options.mode = value;
    } else if (std::strcmp(flag, "--backend") == 0) {
      if (emio::parse_backend_choice(value, options.backend).failed()) return false;
    } else if (std::strcmp(flag, "--pairs") == 0) {
      if (!parse_count(value, options.pairs) || options.pairs > max_pairs) return false;
    } else if (std::strcmp(flag, "--round-trips") == 0) {
      if (!parse_count(value, options.round_trips)) return false;
    } else if (std::strcmp(flag, "--warmup-round-trips") == 0) {
      if (!parse_count(value, options.warmup_round_trips)) return false;
    } else {
      return false;
    }
  }
  return argc % 2 == 1;
}

int fail(const char* step, emio::Error error) {
  std::fprintf(stderr, "emio_bench_dispatch: %s failed: %s\n", step, error.name());
  return EXIT_FAILURE;
}

template <typename Loop>
int run_benchmark(const Options& options) {
  // Static: the loops hold their fixed tables (up to max_endpoints sources) and would crowd the stack.
  static PingPong game;
  static Loop loop;
  if (emio::Error error = game.open(options.pairs); error.failed()) return fail("socketpair", error);
  if (emio::Error error = loop.open(game, options.backend); error.failed()) return fail("registration", error);

  if (emio::Error error = game.start(options.warmup_round_trips); error.failed()) return fail("warm-up start", error);
  if (emio::Error error = loop.run(game); error.failed()) return fail("warm-up", error);

  if (emio::Error error = game.start(options.round_trips); error.failed()) return fail("start", error);
  game.counters = Counters{};
  const uint64_t started_ns = emio::monotonic_now_ns();
  begin_measured_region();
  const emio::Error run_error = loop.run(game);
  end_measured_region();
  const uint64_t elapsed_ns = emio::monotonic_now_ns() - started_ns;
  if (run_error.failed()) return fail("ping-pong", run_error);

  const Counters& counted = game.counters;
  const double seconds = static_cast<double>(elapsed_ns) / 1e9;
  std::printf("mode=%s backend=%s pairs=%u round_trips=%u events=%llu waits=%llu reads=%llu writes=%llu seconds=%.6f\n",
              Loop::mode_name, loop.backend_name(), options.pairs, options.round_trips,
              static_cast<unsigned long long>(counted.events), static_cast<unsigned long long>(counted.waits),
              static_cast<unsigned long long>(counted.reads), static_cast<unsigned long long>(counted.writes), seconds);
  return EXIT_SUCCESS;
}

}  // namespace
}  // namespace emio_bench

int main(int argc, char** argv) {
  emio_bench::Options options;
  if (!emio_bench::parse_options(argc, argv, options)) {
    emio_bench::print_usage();
    return EXIT_FAILURE;
  }
  if (std::strcmp(options.mode, "raw") == 0) return emio_bench::run_benchmark<emio_bench::RawEpollLoop>(options);
  if (std::strcmp(options.mode, "driver") == 0) return emio_bench::run_benchmark<emio_bench::DriverLoop>(options);
  if (std::strcmp(options.mode, "contract-floor") == 0) {
    return emio_bench::run_benchmark<emio_bench::ContractFloorLoop>(options);
  }
  emio_bench::print_usage();
  return EXIT_FAILURE;
}
