// SPDX-License-Identifier: MIT
#include "driver_loop.h"

namespace emio_bench {

using emio::Error;

Error DriverLoop::open(PingPong& game, emio::BackendChoice backend) {
  emio::DriverConfig config = storage_.config();
  config.backend = backend;
  if (Error error = driver_.init(config); error.failed()) return error;
  for (uint32_t i = 0; i < game.endpoint_count(); ++i) {
    Endpoint& endpoint = game.endpoint(i);
    emio::Result<emio::Registration> added = driver_.handle().add_source(endpoint.fd.get(), emio::Interest::readable);
    if (!added.ok()) return added.error();
    sources_[i] = Source{this, &endpoint, added.value(), emio::Waker{&queue_source, &sources_[i]}};
    // Nothing is readable yet: this stores the waker.
    if (Error error = serve(game, sources_[i]); error.failed()) return error;
  }
  return Error{};
}

void DriverLoop::queue_source(void* context) {
  Source* source = static_cast<Source*>(context);
  source->loop->ready_[source->loop->ready_count_++] = source;
}

Error DriverLoop::run(PingPong& game) {
  while (!game.finished()) {
    emio::Result<uint32_t> dispatched = driver_.turn(emio::wait_forever);
    game.counters.waits += 1;
    if (!dispatched.ok()) return dispatched.error();
    game.counters.events += dispatched.value();
    for (uint32_t i = 0; i < ready_count_; ++i) {
      if (Error error = serve(game, *ready_[i]); error.failed()) return error;
    }
    ready_count_ = 0;
  }
  return Error{};
}

inline Error DriverLoop::serve(PingPong& game, Source& source) {
  emio::ScheduledIo& io = *source.registration.io;
  emio::ReadyEvent ready = io.poll_ready(emio::Direction::read, source.waker);
  while (ready.is_ready()) {
    if (ready.shut_down) return Error::shut_down;
    if (Error error = game.drain(*source.endpoint); error.failed()) return error;
    // Drained to EAGAIN: clear what was seen and park again, in one step.
    ready = io.clear_and_poll(ready, source.waker);
  }
  return Error{};  // the waker is stored; the driver queues the source again
}

}  // namespace emio_bench
