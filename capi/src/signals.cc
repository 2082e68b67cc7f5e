// SPDX-License-Identifier: MIT
// emio_signals_*: a SignalListener (signalfd on Linux) watched with an IoWatch.
#include <utility>

#include "objects.h"

using emio_capi::object_of;
using emio_capi::Signals;
using emio_capi::to_c;

namespace {

void arm(Signals& signals);

void on_readable(void* context, emio::ReadyEvent event) {
  Signals& signals = *static_cast<Signals*>(context);
  if (event.shut_down) return;
  emio::Result<int> received = signals.listener->try_next();
  if (!received.ok()) {
    // would_block: nothing pending after all; any other error also waits for the next edge.
    arm(signals);
    return;
  }
  // One signal per callback, re-armed first: the source is still ready if more are pending, and the
  // user callback, called last, may close the set.
  arm(signals);
  signals.callback(received.value(), signals.context);
}

void arm(Signals& signals) {
  (void)signals.watch.arm(*signals.executor, signals.listener->registration(), emio::Direction::read, on_readable,
                          &signals);
}

}  // namespace

extern "C" {

int emio_signals_open(emio_runtime* runtime, emio_signals* signals, const int* signal_numbers, size_t count,
                      emio_signal_cb callback, void* context) {
  emio::SignalSet set;
  for (size_t i = 0; i < count; ++i) set = set.with(signal_numbers[i]);
  emio::Executor& executor = emio_capi::executor_of(runtime);
  emio::Result<emio::SignalListener> opened = emio::SignalListener::open(executor.handle(), set);
  if (!opened.ok()) return to_c(opened.error());
  Signals& object = emio_capi::construct<Signals>(signals);
  object.listener.emplace(std::move(opened.value()));
  object.executor = &executor;
  object.callback = callback;
  object.context = context;
  arm(object);
  return EMIO_OK;
}

void emio_signals_close(emio_signals* signals) {
  emio_capi::destroy<Signals>(signals);  // the watch disarms, then the listener restores the mask
}

}  // extern "C"
