// SPDX-License-Identifier: MIT
// The errors the runtime layer adds, as errno values so that Error::name() prints them and C callers
// compare them with <errno.h> constants. Operations return them; nothing here is fatal.
#pragma once

#include <cerrno>

#include "emio/port/error.h"
#include "emio/port/result.h"

namespace emio {

// An operation would block: EAGAIN as a value, never an exception and never a busy loop. A try_ call
// that returns it has already cleared the readiness it saw (ScheduledIo::clear_readiness).
inline constexpr Error would_block = Error::from_errno(EAGAIN);
// An await wrapped in with_timeout() did not complete in time.
inline constexpr Error timed_out = Error::from_errno(ETIMEDOUT);
// The coroutine frame pool had no free frame of the size asked for, so the coroutine was never created.
inline constexpr Error frame_pool_exhausted = Error::from_errno(ENOMEM);
// A coroutine's frame is bigger than the pool's blocks (ExecutorConfig::frame_size_bytes): it never fits,
// whatever is free. FramePool::last_oversized_frame_bytes() says how big it was; the log says it too.
inline constexpr Error frame_too_large = Error::from_errno(E2BIG);
// A fixed-capacity table (tasks, timers, the cross-thread inbox) is full.
inline constexpr Error capacity_full = Error::from_errno(ENOSPC);
// A connect() is still in progress (TcpStream::connect_result before the socket became writable).
inline constexpr Error in_progress = Error::from_errno(EINPROGRESS);

inline bool is_would_block(Error error) { return error == would_block; }
template <typename T>
bool is_would_block(const Result<T>& result) {
  return !result.ok() && result.error() == would_block;
}

}  // namespace emio
