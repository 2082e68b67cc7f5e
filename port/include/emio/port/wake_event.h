// SPDX-License-Identifier: MIT
// The primitive that wakes a thread sleeping in the poller: an eventfd on Linux, a pipe elsewhere.
// The poller watches poll_fd() for readability, edge-triggered.
#pragma once

#include "emio/port/error.h"
#include "emio/port/fd.h"

namespace emio {

class WakeEvent {
 public:
  Error open();
  // Closes both ends; open() may run again.
  void close() {
    read_end_.reset();
    write_end_.reset();
  }
  int poll_fd() const { return read_end_.get(); }
  // Makes poll_fd() readable with a new edge. One system call; never blocks.
  Error signal();
  // Empties the event. An edge-triggered eventfd never needs it (every write is a new edge, mio does the
  // same); a level-triggered poller (io_uring poll) and the pipe fallback do.
  void drain();

 private:
  Fd read_end_;
  Fd write_end_;  // the pipe's write end; unused with eventfd, whose one fd is both ends
};

}  // namespace emio
