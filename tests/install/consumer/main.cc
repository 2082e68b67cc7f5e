// Registers a pipe with an installed emio and sees it become readable: proof the package is usable.
#include <fcntl.h>
#include <unistd.h>

#include <cstdio>

#include "emio/driver/driver.h"

int main() {
  static emio::DriverStorage<4, 4> storage;
  emio::Driver driver;
  if (driver.init(storage.config()).failed()) return 1;
  int ends[2];
  if (::pipe2(ends, O_NONBLOCK | O_CLOEXEC) != 0) return 1;
  emio::Result<emio::Registration> added = driver.handle().add_source(ends[0], emio::Interest::readable);
  if (!added.ok()) return 1;
  if (::write(ends[1], "x", 1) != 1) return 1;
  emio::Result<uint32_t> events = driver.turn(1000);
  if (!events.ok() || events.value() != 1) return 1;
  std::printf("consumer: backend %s, pipe readable\n", driver.backend_name());
  return added.value().io->readiness(emio::Direction::read).ready.is_readable() ? 0 : 1;
}
