// SPDX-License-Identifier: MIT
// Compiled once per MISUSE_CASE by tests/misuse/check-misuse.sh: each case forgets a co_await, which
// must not compile under -Werror (every awaitable is [[nodiscard]]). Case 0 awaits everything properly
// and must compile: it proves the other cases fail for the forgotten co_await, not for a typo.
#include "emio/runtime/runtime.h"

namespace {

emio::Task<> misuse(emio::TcpStream& stream, emio::TcpListener& listener, emio::Operation& operation,
                    emio::Registration registration) {
  std::byte buffer[16];
#if MISUSE_CASE == 0
  (void)co_await stream.write(buffer);
  (void)co_await stream.read(buffer);
  (void)co_await listener.accept();
  (void)co_await emio::TcpStream::connect(emio::SocketAddress());
  (void)co_await emio::sleep_ms(1);
  (void)co_await emio::yield_now();
  (void)co_await emio::ready(registration, emio::Direction::read);
  (void)co_await emio::with_timeout(10, stream.read(buffer));
  (void)co_await emio::complete(operation);
#elif MISUSE_CASE == 1
  stream.write(buffer);
#elif MISUSE_CASE == 2
  stream.read(buffer);
#elif MISUSE_CASE == 3
  listener.accept();
#elif MISUSE_CASE == 4
  emio::TcpStream::connect(emio::SocketAddress());
#elif MISUSE_CASE == 5
  emio::sleep_ms(1);
#elif MISUSE_CASE == 6
  emio::yield_now();
#elif MISUSE_CASE == 7
  emio::ready(registration, emio::Direction::read);
#elif MISUSE_CASE == 8
  emio::with_timeout(10, stream.read(buffer));
#elif MISUSE_CASE == 9
  emio::complete(operation);
#endif
  co_return;
}

}  // namespace

// Referenced, so that the coroutine is compiled in every case.
void* misuse_entry = reinterpret_cast<void*>(&misuse);
