// SPDX-License-Identifier: MIT
// What both signal mechanisms share: which signals a listener accepts.
#pragma once

#include <csignal>

#include "emio/runtime/signals.h"

namespace emio::detail {

// Signals a loop can listen for: not SIGKILL and SIGSTOP (never caught), and not the faults a thread
// raises on itself (SIGSEGV, SIGBUS, SIGFPE, SIGILL), which a blocked mask turns into a kill anyway.
inline bool listenable(SignalSet signals) {
  const SignalSet refused =
      SignalSet().with(SIGKILL).with(SIGSTOP).with(SIGSEGV).with(SIGBUS).with(SIGFPE).with(SIGILL);
  constexpr uint32_t out_of_range_bit = 1;
  return !signals.empty() && (signals.bits() & (refused.bits() | out_of_range_bit)) == 0;
}

inline void fill_mask(SignalSet signals, sigset_t& mask) {
  sigemptyset(&mask);
  for (int signal_number = 1; signal_number <= 31; ++signal_number) {
    if (signals.contains(signal_number)) sigaddset(&mask, signal_number);
  }
}

}  // namespace emio::detail
