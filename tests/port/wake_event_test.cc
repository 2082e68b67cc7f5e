// SPDX-License-Identifier: MIT
#include "emio/port/wake_event.h"

#include <poll.h>

#include "support/check.h"

namespace {
bool readable_now(int fd) {
  pollfd entry{fd, POLLIN, 0};
  return ::poll(&entry, 1, 0) == 1 && (entry.revents & POLLIN);
}
}  // namespace

TEST_GROUP(WakeEvent) {
  emio::WakeEvent event;
  void setup() override { CHECK_OK(event.open()); }
};

TEST(WakeEvent, StartsNotReadable) { CHECK_FALSE(readable_now(event.poll_fd())); }

TEST(WakeEvent, SignalMakesItReadable) {
  CHECK_OK(event.signal());
  CHECK(readable_now(event.poll_fd()));
}

TEST(WakeEvent, DrainEmptiesIt) {
  CHECK_OK(event.signal());
  CHECK_OK(event.signal());
  event.drain();
  CHECK_FALSE(readable_now(event.poll_fd()));
}
