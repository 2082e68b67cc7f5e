// SPDX-License-Identifier: MIT
// A daemon whose listener lives in static storage while its Executor lives in main(): the listener's
// destructor runs at exit, after the Executor is gone. tests/misuse/check-outlive.sh runs it and expects
// the misuse caught: a debug build stops on an assert that names it, a release build logs one line and
// exits 0 (it used to be SIGSEGV in Handle::deregister, which systemd logs as a crash).
#include <cstdio>

#include "emio/runtime/runtime.h"

namespace {

emio::TcpListener global_listener;  // NOLINT(cppcoreguidelines-avoid-non-const-global-variables): the misuse

}  // namespace

int main() {
  emio::Executor executor;
  if (executor.init(emio::ExecutorConfig{}).failed()) return 2;
  emio::Result<emio::SocketAddress> address = emio::SocketAddress::parse("127.0.0.1:0");
  emio::Result<emio::TcpListener> bound = emio::TcpListener::bind(executor.handle(), address.value());
  if (!bound.ok()) return 3;
  global_listener = std::move(bound.value());
  std::printf("listening; returning from main with the listener still open\n");
  return 0;
}
