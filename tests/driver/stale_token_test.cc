// SPDX-License-Identifier: MIT
// A token that outlived its registration must never reach the slot's new owner.

#include "emio/driver/driver.h"
#include "support/check.h"
#include "support/driver_fixture.h"
#include "support/sockets.h"

using emio::Direction;
using emio::Interest;
using emio::Registration;

namespace {

// The scene: A and B are readable in the same batch of events. Whichever is dispatched first has a
// waker that deregisters the other and registers C, which reuses the freed slot (LIFO free list). The
// other's event, already in the batch, then carries a stale token for C's slot.
struct ReuseScene {
  emio::Handle handle;
  emio_test::FdPair* pipes;  // [0] A, [1] B, [2] C
  Registration registrations[2];
  Registration replacement;
  int first_woken = -1;
  bool replaced = false;
};

struct SceneWaker {
  ReuseScene* scene;
  int which;
  static void on_wake(void* context) {
    auto* self = static_cast<SceneWaker*>(context);
    ReuseScene& scene = *self->scene;
    if (scene.first_woken >= 0) return;
    scene.first_woken = self->which;
    const int other = 1 - self->which;
    if (scene.handle.deregister(scene.registrations[other]).failed()) return;
    auto added = scene.handle.add_source(scene.pipes[2].first.get(), Interest::readable);
    if (!added.ok()) return;
    scene.replacement = added.value();
    scene.replaced = true;
  }
};

}  // namespace

TEST_GROUP(StaleToken) {
  emio::Driver driver;
  void setup() override { CHECK_OK(driver.init(emio_test::driver_config(8, 8))); }
};

TEST(StaleToken, EventQueuedForARemovedSourceIsNotDispatchedToTheSlotsNewOwner) {
  emio_test::FdPair pipes[3] = {emio_test::make_pipe(), emio_test::make_pipe(), emio_test::make_pipe()};
  ReuseScene scene{driver.handle(), pipes, {}, {}, -1, false};
  SceneWaker wakers[2] = {{&scene, 0}, {&scene, 1}};
  for (int i = 0; i < 2; ++i) {
    scene.registrations[i] = REQUIRE_VALUE(driver.handle().add_source(pipes[i].first.get(), Interest::readable));
    CHECK_FALSE(scene.registrations[i].io->poll_ready(Direction::read, {SceneWaker::on_wake, &wakers[i]}).is_ready());
  }
  emio_test::CountingWaker new_owner;
  CHECK_EQUAL(1, emio_test::write_bytes(pipes[0].second.get(), 1));
  CHECK_EQUAL(1, emio_test::write_bytes(pipes[1].second.get(), 1));

  CHECK_EQUAL(1u, REQUIRE_VALUE(driver.turn(0)));

  CHECK(scene.replaced);
  const Registration& removed = scene.registrations[1 - scene.first_woken];
  CHECK_EQUAL(removed.token.index(), scene.replacement.token.index());
  CHECK(removed.token.generation() != scene.replacement.token.generation());
  CHECK_EQUAL(1u, driver.stats().stale_events_dropped);
  CHECK(scene.replacement.io->readiness(Direction::read).ready.empty());
  // C's pipe is empty: nothing may wake a task waiting on it.
  CHECK_FALSE(scene.replacement.io->poll_ready(Direction::read, new_owner.waker()).is_ready());
  CHECK_EQUAL(0u, REQUIRE_VALUE(driver.turn(0)));
  CHECK_EQUAL(0, new_owner.calls.load());
}

TEST(StaleToken, DeregisterWithAStaleTokenLeavesTheNewOwnerRegistered) {
  auto first = emio_test::make_pipe();
  auto second = emio_test::make_pipe();
  Registration old_registration = REQUIRE_VALUE(driver.handle().add_source(first.first.get(), Interest::readable));
  CHECK_OK(driver.handle().deregister(old_registration));
  Registration new_registration = REQUIRE_VALUE(driver.handle().add_source(second.first.get(), Interest::readable));
  CHECK_EQUAL(old_registration.token.index(), new_registration.token.index());

  CHECK_ERROR(emio::Error::stale_token, driver.handle().deregister(old_registration));

  CHECK_EQUAL(1, emio_test::write_bytes(second.second.get(), 1));
  CHECK_EQUAL(1u, REQUIRE_VALUE(driver.turn(0)));
  CHECK(new_registration.io->readiness(Direction::read).ready.is_readable());
}

TEST(StaleToken, SlotReusedWhileTheRemovedSourcesPollIsOutHearsOnlyItsOwnSource) {
  // On IOCP the removed source's AFD poll is cancelled, but its completion still comes, later, to the slot
  // the new owner holds by then: it must be dropped, and the new owner's own poll sent.
  auto first = emio_test::make_pipe();
  auto second = emio_test::make_pipe();
  Registration old_registration = REQUIRE_VALUE(driver.handle().add_source(first.first.get(), Interest::readable));
  CHECK_EQUAL(0u, REQUIRE_VALUE(driver.turn(0)));  // its poll is out
  CHECK_OK(driver.handle().deregister(old_registration));
  Registration new_registration = REQUIRE_VALUE(driver.handle().add_source(second.first.get(), Interest::readable));
  CHECK_EQUAL(old_registration.token.index(), new_registration.token.index());
  CHECK_EQUAL(1, emio_test::write_bytes(first.second.get(), 1));
  for (int turn = 0; turn < 5; ++turn) CHECK_EQUAL(0u, REQUIRE_VALUE(driver.turn(20)));
  CHECK(new_registration.io->readiness(Direction::read).ready.empty());
  CHECK_EQUAL(1, emio_test::write_bytes(second.second.get(), 1));
  uint32_t events = 0;
  for (int turn = 0; turn < 100 && events == 0; ++turn) events = REQUIRE_VALUE(driver.turn(100));
  CHECK_EQUAL(1u, events);
  CHECK(new_registration.io->readiness(Direction::read).ready.is_readable());
}

TEST(StaleToken, SourceRemovedBeforeItsEventIsPolledProducesNoEvent) {
  auto pipe = emio_test::make_pipe();
  Registration registration = REQUIRE_VALUE(driver.handle().add_source(pipe.first.get(), Interest::readable));
  CHECK_EQUAL(1, emio_test::write_bytes(pipe.second.get(), 1));
  CHECK_OK(driver.handle().deregister(registration));
  CHECK_EQUAL(0u, REQUIRE_VALUE(driver.turn(0)));
  CHECK_EQUAL(0u, driver.stats().events_dispatched);
}
