// Runs every test group once per backend compiled in (one today: the build's EMIO_BACKEND).
#include <CppUTest/CommandLineTestRunner.h>
#include <CppUTest/MemoryLeakWarningPlugin.h>

#include <csignal>

#include "support/allocation_counter.h"

int main(int argc, char** argv) {
  // Tests close sockets whose peers may still write; a SIGPIPE must not end the run.
  (void)std::signal(SIGPIPE, SIG_IGN);
  MemoryLeakWarningPlugin::turnOnThreadSafeNewDeleteOverloads();
  emio_test::install_allocation_counter();
  return CommandLineTestRunner::RunAllTests(argc, argv);
}
