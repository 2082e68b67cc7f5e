// SPDX-License-Identifier: MIT
// The test runner of a build that has alloc/ and port/ but no driver yet: the Windows build, while its
// IOCP backend is written (docs/design.md, "Windows"). The full runner is support/main.cc.
#include <CppUTest/CommandLineTestRunner.h>
#include <CppUTest/MemoryLeakWarningPlugin.h>

int main(int argc, char** argv) {
  MemoryLeakWarningPlugin::turnOnThreadSafeNewDeleteOverloads();
  return CommandLineTestRunner::RunAllTests(argc, argv);
}
