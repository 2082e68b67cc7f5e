// SPDX-License-Identifier: MIT
// daemon_setup.h's platform parts on Windows: no open-file limit to raise (a process's handles have no
// RLIMIT_NOFILE), no SIGPIPE (a send to a closed socket fails with its error), no reload signal (a console
// sends Ctrl-C, Ctrl-Break and close only), and no service manager: emio speaks to systemd, not to the
// Windows service control manager.
#include "common/daemon_setup.h"

namespace emio_examples {

bool fit_open_file_limit(const char*, const char*, uint32_t, uint32_t) { return true; }

void ignore_broken_pipes() {}

emio::SignalSet reload_signals() { return emio::SignalSet(); }

bool socket_activated() { return false; }

bool adopt_activated_listener(const char*, emio::Executor&, const char*, bool, emio::TcpListener*, bool* adopted) {
  *adopted = false;
  return true;
}

void notify_ready(const char*) {}
void notify_stopping() {}

bool ServiceWatchdog::start(const char*, emio::Executor&) { return true; }
void ServiceWatchdog::stop() {}

}  // namespace emio_examples
