// SPDX-License-Identifier: MIT
// emio_watch_*: any pollable fd, adopted by a PollFd, with one IoWatch per direction.
#include <utility>

#include "objects.h"

using emio_capi::object_of;
using emio_capi::to_c;
using emio_capi::Watch;
using emio_capi::WatchDirection;

namespace {

void on_ready(void* context, emio::ReadyEvent event) {
  WatchDirection& direction = *static_cast<WatchDirection*>(context);
  direction.seen = event;
  direction.has_seen = true;
  direction.callback(direction.owner->self, direction.direction, direction.context);  // last: it may close
}

}  // namespace

extern "C" {

int emio_watch_open(emio_runtime* runtime, emio_watch* watch, int fd) {
  emio::Executor& executor = emio_capi::executor_of(runtime);
  emio::Result<emio::PollFd> adopted = emio::PollFd::adopt(executor.handle(), emio::Fd(fd));
  if (!adopted.ok()) return to_c(adopted.error());
  Watch& object = emio_capi::construct<Watch>(watch);
  object.source = std::move(adopted.value());
  object.executor = &executor;
  object.self = watch;
  for (int direction = EMIO_READABLE; direction <= EMIO_WRITABLE; ++direction) {
    object.directions[direction].owner = &object;
    object.directions[direction].direction = direction;
  }
  return EMIO_OK;
}

int emio_watch_arm(emio_watch* watch, int direction, emio_watch_cb callback, void* context) {
  if (direction != EMIO_READABLE && direction != EMIO_WRITABLE) return -EINVAL;
  Watch& object = object_of<Watch>(watch);
  WatchDirection& armed = object.directions[direction];
  // The caller met EAGAIN since the last callback: that readiness is spent. An event after it moved the
  // tick, so clear_readiness keeps it and the arm below calls back at once.
  if (armed.has_seen) object.source.io().clear_readiness(armed.seen);
  armed.has_seen = false;
  armed.callback = callback;
  armed.context = context;
  const emio::Direction kind = direction == EMIO_READABLE ? emio::Direction::read : emio::Direction::write;
  return to_c(armed.watch.arm(*object.executor, object.source.registration(), kind, on_ready, &armed));
}

int emio_watch_fd(const emio_watch* watch) { return object_of<Watch>(watch).source.fd(); }

void emio_watch_close(emio_watch* watch) {
  emio_capi::destroy<Watch>(watch);  // the watches disarm first (declared last), then the fd closes
}

}  // extern "C"
