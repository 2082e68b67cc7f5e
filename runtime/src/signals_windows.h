// SPDX-License-Identifier: MIT
// The console control handler that SignalListener::open installs on Windows (signals_windows.cc), for the
// tests: wine runs no console for a headless program, so GenerateConsoleCtrlEvent cannot raise an event
// there (it fails with ERROR_INVALID_ACCESS); the tests call the handler as Windows would, from a thread.
#pragma once

#include <windows.h>

namespace emio::detail {

// TRUE: the event was a signal a listener catches (sent to it, or discarded after close()), and the next
// handler, at the end of the chain ExitProcess, does not run. FALSE: passed on.
BOOL WINAPI on_console_event(DWORD event);

}  // namespace emio::detail
