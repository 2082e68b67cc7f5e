// SPDX-License-Identifier: MIT
#include "common/accept_watch.h"

#include <utility>

#include "emio/port/log.h"

namespace emio_examples {

void AcceptWatch::start(emio::Executor& executor, emio::TcpListener& listener, Admit admit, void* context) {
  executor_ = &executor;
  listener_ = &listener;
  admit_ = admit;
  context_ = context;
  stopped_ = false;
  arm();
}

void AcceptWatch::stop() {
  stopped_ = true;
  watch_.disarm();
  (void)backoff_timer_.cancel();
}

void AcceptWatch::arm() {
  // Fails only for a listener already closed: there is nothing left to accept from.
  (void)watch_.arm(*executor_, listener_->registration(), emio::Direction::read, on_ready, this);
}

void AcceptWatch::on_ready(void* self, emio::ReadyEvent event) {
  if (!event.shut_down) static_cast<AcceptWatch*>(self)->accept_pending();
}

void AcceptWatch::on_backoff_passed(emio::Timer&, void* self) { static_cast<AcceptWatch*>(self)->accept_pending(); }

void AcceptWatch::accept_pending() {
  for (int round = 0; round < accepts_per_callback; ++round) {
    emio::Result<emio::TcpStream> accepted = listener_->try_accept();
    if (emio::is_would_block(accepted)) break;
    if (accepted.ok()) {
      policy_.on_success();
      admit_(context_, std::move(accepted.value()));
      if (stopped_) return;  // admit stopped this watch
      continue;
    }
    const AcceptPolicy::Next next = policy_.on_failure(accepted.error());
    if (next == AcceptPolicy::Next::stop) return;
    if (next == AcceptPolicy::Next::back_off) {
      const emio::Error started =
          executor_->timers().start_once(backoff_timer_, AcceptPolicy::resource_backoff_ms, on_backoff_passed, this);
      if (started.ok()) return;
      emio::log_message(emio::LogLevel::error, "accept: no timer free to back off: %s", started.name());
      break;  // re-armed: it calls back next iteration, which is the best left
    }
  }
  arm();
}

}  // namespace emio_examples
