// SPDX-License-Identifier: MIT
#include "fault/echo_fault_fixture.h"

#include "emio/port/clock.h"
#include "runtime/runtime_fixture.h"
#include "support/check.h"
#include "support/driver_fixture.h"
#include "support/sockets.h"

namespace emio_fault_test {

void EchoFaultFixture::setup() { start(emio_test::executor_config(32, 32)); }

void EchoFaultFixture::teardown() {
  emio_fault::disarm();
  emio_fault::close_planted_leaks();
}

void EchoFaultFixture::start(emio::ExecutorConfig config) {
  config.frame_size_bytes = 4096;
  CHECK_OK(executor_.init(config));
  server_.executor = &executor_;
  server_.listener = REQUIRE_TAKE(emio::TcpListener::bind(executor_.handle(), emio_test::loopback_any_port()));
  address_ = REQUIRE_VALUE(server_.listener.local_address());
  CHECK_OK(start_echo_server(server_));
  CHECK_OK(executor_.run_once(0));  // the accept loop parks
}

Counts EchoFaultFixture::counts() {
  return Counts{executor_.driver().live_registrations(), executor_.live_tasks(), executor_.frame_pool().frames_in_use(),
                executor_.driver().operations_in_flight(), emio_test::settled_fd_count()};
}

// Runs `round` to its end (or the deadline), armed with `schedule` if given.
Findings EchoFaultFixture::run_round(EchoRound& round, const emio_fault::Schedule* schedule) {
  Findings found;
  if (start_clients(executor_, address_, round).failed()) found.add(Finding::client_failed);
  if (schedule != nullptr) emio_fault::arm(*schedule, seed_);
  const uint64_t give_up_ms = emio::monotonic_now_ms() + round_deadline_ms_;
  emio::Error turned{};
  while (!round_finished(round) && turned.ok() && emio::monotonic_now_ms() < give_up_ms) {
    turned = executor_.run_once(10);
  }
  emio_fault::disarm();
  found.add_if(turned.failed(), Finding::turn_failed);
  found.add_if(!round_finished(round), Finding::round_unfinished);
  found.add_if(server_.failure.failed(), Finding::server_failed);
  for (uint32_t i = 0; i < round.client_count; ++i) {
    const EchoClient& client = round.clients[i];
    found.add_if(client.failure.failed(), Finding::client_failed);
    found.add_if(client.wrong_bytes != 0, Finding::bytes_differ);
    found.add_if(client.confirmed_bytes < round.bytes_per_client, Finding::bytes_missing);
  }
  return found;
}

// Until the server's connection tasks ended and their fds closed. The fds last and a few times only:
// each count waits 50 ms for closes to settle, and a leak never settles.
void EchoFaultFixture::settle(const Counts& expected) {
  const auto live_differ = [&] {
    return executor_.driver().live_registrations() != expected.registrations ||
           executor_.live_tasks() != expected.tasks || executor_.frame_pool().frames_in_use() != expected.frames ||
           executor_.driver().operations_in_flight() != expected.operations;
  };
  for (int attempt = 0; attempt < 200 && live_differ(); ++attempt) CHECK_OK(executor_.run_once(5));
  for (int attempt = 0; attempt < 10 && counts() != expected; ++attempt) CHECK_OK(executor_.run_once(5));
}

Outcome EchoFaultFixture::examine(const emio_fault::Schedule& schedule, uint32_t client_count) {
  const Counts before = counts();
  faulted_round_.client_count = client_count;
  Outcome outcome{run_round(faulted_round_, &schedule), emio_fault::injected()};
  UT_PRINT(StringFromFormat("%s: %llu faults injected, %u reconnects of client 1", schedule.name,
                            static_cast<unsigned long long>(outcome.injected), faulted_round_.clients[0].reconnects));
  settle(before);
  const Counts after = counts();
  outcome.findings.add_if(after.registrations != before.registrations, Finding::registrations_leaked);
  outcome.findings.add_if(after.tasks != before.tasks, Finding::tasks_leaked);
  outcome.findings.add_if(after.frames != before.frames, Finding::frames_leaked);
  outcome.findings.add_if(after.operations != before.operations, Finding::operations_leaked);
  outcome.findings.add_if(after.fds != before.fds, Finding::fds_leaked);
  clean_round_.client_count = client_count;
  outcome.findings.add_if(!run_round(clean_round_, nullptr).none(), Finding::stopped_serving);
  return outcome;
}

uint64_t EchoFaultFixture::survive(const emio_fault::Schedule& schedule, uint32_t client_count) {
  const Outcome outcome = examine(schedule, client_count);
  CHECK_NO_FINDINGS(outcome.findings, seed_);
  return outcome.injected;
}

}  // namespace emio_fault_test
