// SPDX-License-Identifier: MIT
// The fault layer of the fault tests: link-time wrappers (-Wl,--wrap=, tests/fault/CMakeLists.txt) of the
// system calls the driver and runtime make, failing them by a seeded schedule. Only the emio_fault_tests
// executable is linked with the wrappers: the libraries, the daemons and every other test carry no trace.
//
// A schedule is a list of rules; each call of a kind asks the rules for that kind, in order, whether it
// fails, and the answer for the n-th call of a kind depends only on the seed, the kind and n. The same
// seed therefore replays the same decisions; which call is the n-th still depends on the kernel's timing.
#pragma once

#include <cstdint>
#include <span>

namespace emio_fault {

enum class Call : uint8_t {
  read,          // read(2): pipes, the wake eventfd
  write,         // write(2)
  recv,          // recv(2): stream sockets
  send,          // send(2)
  accept,        // accept4(2)
  socket,        // socket(2)
  wait,          // epoll_wait(2), or kevent(2) waiting in a kqueue build: the driver's blocking call
  uring_setup,   // io_uring_queue_init_params: io_uring_setup(2) and its mmaps
  uring_submit,  // io_uring_enter(2), submitting and maybe waiting
  count,
};

enum class Effect : uint8_t {
  fail,            // the call fails with `error`; EINTR ends a wait early, EAGAIN raises a real edge after
  short_transfer,  // recv/send: at most part of the bytes, then the kernel's own wake-up (see fault_layer.cc)
  reset,           // recv/send on TCP: the connection is really reset (RST) first, the call reports it
  end_poll,        // uring_submit: the kernel cancels every poll on one fd (IORING_REGISTER_SYNC_CANCEL)
  // Planted defects, not faults: they break the process, so that the harness tests (FaultHarness*)
  // prove the checks see what each does.
  planted_undercount,  // recv/send on TCP: reports one byte fewer than moved (recv: lost; send: sent twice)
  planted_fd_leak,     // accept: a copy of the accepted fd stays open (close_planted_leaks ends it)
  count,
};

struct Rule {
  Call call;
  Effect effect;
  int error;             // errno for Effect::fail
  uint32_t per_mille;    // how often a call starts a fault
  uint32_t burst_calls;  // calls of this kind each fault lasts (an EINTR storm is a long burst)
};

struct Schedule {
  const char* name;
  std::span<const Rule> rules;
};

// Arms `schedule` for the calling thread (other threads' calls never fail) from `seed`, resetting the
// counters. The schedule must outlive the time it is armed.
void arm(const Schedule& schedule, uint64_t seed);
void disarm();
// Faults injected since the last arm, in all and of one effect.
uint64_t injected();
uint64_t injected(Effect effect);
bool armed();
// io_uring enters since the last arm that found IORING_SQ_CQ_OVERFLOW set: completions the full CQ ring
// could not take, kept by the kernel (FEAT_NODROP) until an enter flushes them.
uint64_t cq_overflows_seen();
// Closes the fds Effect::planted_fd_leak kept, if any (they outlive arm and disarm).
void close_planted_leaks();

// EMIO_FAULT_SEED when set (decimal), else `fallback`: a failing run prints its seed, this replays it.
uint64_t seed_from_environment(uint64_t fallback);

// For the wrappers (fault_wrappers.cc): the rule that fires for this call of `call`, or null.
const Rule* decide(Call call);
// A number drawn for the fault just decided (how short a short transfer is, which fd loses its polls).
uint64_t draw();
// The fds sockets and accepted connections got lately, for end_poll to pick from.
void remember_fd(int fd);
int pick_remembered_fd();
void note_cq_overflow();
void keep_planted_leak(int fd);

}  // namespace emio_fault
