// SPDX-License-Identifier: MIT
// Only the driver thread submits to the ring: sources registered or removed on other threads reach the
// kernel through the backend's request queue, applied by the driver's next wait. Before, a poll armed
// on another thread belonged to that thread: it was cancelled when the thread exited (the source went
// deaf), its events interrupted that thread, and its removal did not release the file.
#include <poll.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/utsname.h>
#include <unistd.h>

#include <atomic>
#include <cstdio>
#include <thread>

#include "emio/driver/driver.h"
#include "emio/driver/uring_backend.h"
#include "emio/port/clock.h"
#include "operations/operation_support.h"
#include "support/check.h"
#include "support/sockets.h"
#include "uring/uring_support.h"

#if defined(EMIO_BACKEND_URING)

using emio::Direction;
using emio::Interest;
using emio::Registration;

namespace {

constexpr uint64_t prompt_ms = 2000;  // generous: each of these completes within a turn or two

// Turns in short steps until `done` holds, for at most prompt_ms; false when the time ran out.
template <typename Done>
bool turn_promptly_until(emio::Driver& driver, Done done) {
  return emio_test::turn_until(driver, done, prompt_ms, 10);
}

bool readable(const Registration& registration) {
  return registration.io->readiness(Direction::read).ready.is_readable();
}

bool kernel_at_least(int major, int minor) {
  utsname name{};
  int found_major = 0;
  int found_minor = 0;
  if (::uname(&name) != 0 || std::sscanf(name.release, "%d.%d", &found_major, &found_minor) != 2) return false;
  return found_major > major || (found_major == major && found_minor >= minor);
}

}  // namespace

TEST_GROUP(UringDriverThread) {
  emio::Driver driver;
  void setup() override { SKIP_WITHOUT_URING(); }
  void init(uint32_t registration_capacity = 16) {
    CHECK_OK(driver.init(emio_test::uring_config(emio::BackendChoice::uring, registration_capacity, 16)));
    STRCMP_EQUAL("uring", driver.backend_name());
    CHECK_EQUAL(0u, REQUIRE_VALUE(driver.turn(0)));  // this thread is the driver thread from here on
  }
};

TEST(UringDriverThread, SourceRegisteredByAThreadThatHasExitedStillGetsEvents) {
  init();
  auto pipe = emio_test::make_pipe();
  Registration reader{};
  std::thread registrar(
      [&] { reader = REQUIRE_VALUE(driver.handle().add_source(pipe.first.get(), Interest::readable)); });
  registrar.join();  // its exit would cancel every request it had submitted (-ECANCELED)
  CHECK(turn_promptly_until(driver, [] { return true; }));
  CHECK_EQUAL(1, emio_test::write_bytes(pipe.second.get(), 1));
  CHECK(turn_promptly_until(driver, [&] { return readable(reader); }));
}

TEST(UringDriverThread, DriverInitialisedOnAnotherThreadTurnsHere) {
  // The ring stays disabled until the first wait, so that its only submitter is the thread that turns.
  auto pipe = emio_test::make_pipe();
  Registration reader{};
  std::thread initialiser([&] {
    CHECK_OK(driver.init(emio_test::uring_config(emio::BackendChoice::uring, 16, 16)));
    reader = REQUIRE_VALUE(driver.handle().add_source(pipe.first.get(), Interest::readable));
  });
  initialiser.join();
  STRCMP_EQUAL("uring", driver.backend_name());
  CHECK_EQUAL(1, emio_test::write_bytes(pipe.second.get(), 1));
  CHECK(turn_promptly_until(driver, [&] { return readable(reader); }));
  driver.handle().wake();
  CHECK(turn_promptly_until(driver, [&] { return driver.stats().wakes_received >= 1; }));
}

TEST(UringDriverThread, DeregisterAndCloseOnAnotherThreadGiveThePeerEndOfStreamPromptly) {
  init();
  auto pair = emio_test::make_socketpair(SOCK_STREAM);
  auto parked = emio_test::make_pipe();  // the registrar blocks reading it until the end of the test
  std::atomic<bool> registered{false};
  Registration server{};
  std::thread registrar([&] {
    server = REQUIRE_VALUE(driver.handle().add_source(pair.first.get(), Interest::readable));
    registered.store(true);
    char byte = 0;
    (void)::read(parked.first.get(), &byte, 1);  // asleep: task work queued to it would wait
  });
  while (!registered.load()) std::this_thread::yield();
  CHECK(turn_promptly_until(driver, [&] { return true; }));  // the poll is armed in the kernel
  const int server_fd = pair.first.release();
  std::thread closer([&] {
    CHECK_OK(driver.handle().deregister(server));
    CHECK_EQUAL(0, ::close(server_fd));
  });
  closer.join();
  // The ring lets go of the file once the driver applied the removal: the peer reads end of stream.
  const bool ended = turn_promptly_until(driver, [&] {
    char byte = 0;
    pollfd peer{pair.second.get(), POLLIN, 0};
    return ::poll(&peer, 1, 0) == 1 && ::read(pair.second.get(), &byte, 1) == 0;
  });
  CHECK_EQUAL(1, emio_test::write_bytes(parked.second.get(), 1));
  registrar.join();
  CHECK(ended);
}

TEST(UringDriverThread, RegisteringThreadIsNotInterruptedByTheSourcesEvents) {
  init();
  auto pipe = emio_test::make_pipe();
  std::atomic<bool> registered{false};
  std::atomic<bool> events_done{false};
  std::atomic<int> interruptions{0};
  Registration reader{};
  std::thread registrar([&] {
    reader = REQUIRE_VALUE(driver.handle().add_source(pipe.first.get(), Interest::readable));
    registered.store(true);
    // Short epoll waits, one after the other (epoll_wait is never restarted): task work queued to this
    // thread would make the next one fail with EINTR, as another driver's turn on this thread would.
    emio::Fd own_epoll(::epoll_create1(EPOLL_CLOEXEC));
    epoll_event unused{};
    while (!events_done.load()) {
      if (::epoll_wait(own_epoll.get(), &unused, 1, 2) < 0 && errno == EINTR) interruptions.fetch_add(1);
    }
  });
  while (!registered.load()) std::this_thread::yield();
  for (int round = 0; round < 20; ++round) {
    CHECK_EQUAL(1, emio_test::write_bytes(pipe.second.get(), 1));
    CHECK(turn_promptly_until(driver, [&] { return readable(reader); }));
    const emio::ReadyEvent seen = reader.io->readiness(Direction::read);
    CHECK_EQUAL(1u, emio_test::drain(pipe.first.get()));
    reader.io->clear_readiness(seen);
    std::this_thread::sleep_for(std::chrono::milliseconds(2));
  }
  events_done.store(true);
  registrar.join();
  CHECK_EQUAL(0, interruptions.load());
}

TEST(UringDriverThread, AFullRequestQueueRefusesAnAddWithEagainUntilTheDriverTurns) {
  init(2);
  auto first = emio_test::make_pipe();
  auto second = emio_test::make_pipe();
  auto third = emio_test::make_pipe();
  Registration a = REQUIRE_VALUE(driver.handle().add_source(first.first.get(), Interest::readable));
  Registration b = REQUIRE_VALUE(driver.handle().add_source(second.first.get(), Interest::readable));
  CHECK_EQUAL(0u, REQUIRE_VALUE(driver.turn(0)));
  emio::Error removed_a;
  emio::Error removed_b;
  bool c_added = false;
  emio::Error refused;
  std::thread other([&] {
    // Two removals and an add wait for the driver (which does not turn meanwhile): the queue holds
    // registration_capacity + 1 requests before it refuses adds; removals always find room.
    removed_a = driver.handle().deregister(a);
    removed_b = driver.handle().deregister(b);
    c_added = driver.handle().add_source(second.first.get(), Interest::readable).ok();
    emio::Result<Registration> d = driver.handle().add_source(third.first.get(), Interest::readable);
    if (!d.ok()) refused = d.error();
  });
  other.join();
  CHECK_OK(removed_a);
  CHECK_OK(removed_b);
  CHECK(c_added);
  CHECK_ERROR(emio::Error::from_errno(EAGAIN), refused);
  CHECK_EQUAL(1u, driver.live_registrations());
  (void)driver.turn(0);  // applies the queue
  Registration d{};
  std::thread again([&] { d = REQUIRE_VALUE(driver.handle().add_source(third.first.get(), Interest::readable)); });
  again.join();
  CHECK_EQUAL(1, emio_test::write_bytes(third.second.get(), 1));
  CHECK(turn_promptly_until(driver, [&] { return readable(d); }));
}

TEST(UringDriverThread, RingDefersTaskWorkToTheDriverThreadAndRegistersItsFdOnKernel61AndLater) {
  if (!kernel_at_least(6, 1)) TEST_EXIT;
  emio::UringBackend backend;
  emio::BackendOptions options;
  options.choice = emio::BackendChoice::uring;
  options.registration_capacity = 4;
  CHECK_OK(backend.open(options));
  CHECK(backend.task_work() == emio::UringTaskWork::deferred);
  epoll_event events[4];
  CHECK_EQUAL(0u, REQUIRE_VALUE(backend.wait(events, 0)));  // binds this thread, enables the ring
  CHECK(backend.ring_fd_registered());
  // Another thread cannot wait on it: the kernel ties the ring to its one submitter.
  emio::Error elsewhere;
  std::thread other([&] {
    emio::Result<uint32_t> waited = backend.wait(events, 0);
    if (!waited.ok()) elsewhere = waited.error();
  });
  other.join();
  CHECK_ERROR(emio::Error::from_errno(EEXIST), elsewhere);
  backend.close();
}

TEST(UringDriverThread, SourcesRemovedOnTheDriverThreadLetGoOfTheirFilesWithinATurn) {
  init();
  emio_test::FdPair pairs[8];
  Registration registrations[8];
  for (int i = 0; i < 8; ++i) {
    pairs[i] = emio_test::make_socketpair(SOCK_STREAM);
    registrations[i] = REQUIRE_VALUE(driver.handle().add_source(pairs[i].first.get(), Interest::readable));
  }
  CHECK_EQUAL(0u, REQUIRE_VALUE(driver.turn(0)));
  for (Registration& registration : registrations) CHECK_OK(driver.handle().deregister(registration));
  CHECK_EQUAL(0u, REQUIRE_VALUE(driver.turn(0)));  // the removals leave, and their answers come back
  char byte = 0;
  for (emio_test::FdPair& pair : pairs) {
    const int server = pair.first.release();
    CHECK_EQUAL(0, ::close(server));
    CHECK_EQUAL(0, ::read(pair.second.get(), &byte, 1));  // closed for real: no poll holds it
  }
}

#endif
