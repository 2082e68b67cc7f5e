// SPDX-License-Identifier: MIT
#include "emio/port/log.h"

#include <unistd.h>

#include <cstdarg>
#include <cstdio>
#include <cstring>

namespace emio {
namespace {

void write_to_stderr(LogLevel level, const char* message, void* /*context*/) {
  static const char* const prefixes[] = {"emio info: ", "emio warning: ", "emio error: "};
  char line[300];
  const int length = std::snprintf(line, sizeof line, "%s%s\n", prefixes[static_cast<int>(level)], message);
  if (length > 0) (void)::write(STDERR_FILENO, line, std::strlen(line));
}

LogHook current_hook = write_to_stderr;
void* current_context = nullptr;

}  // namespace

void set_log_hook(LogHook hook, void* context) {
  current_hook = hook != nullptr ? hook : write_to_stderr;
  current_context = context;
}

void log_message(LogLevel level, const char* format, ...) {
  char message[256];
  va_list arguments;
  va_start(arguments, format);
  // clang-analyzer 14 reports this va_list as uninitialised right after va_start: a false positive.
  (void)std::vsnprintf(message, sizeof message, format, arguments);  // NOLINT(clang-analyzer-valist.Uninitialized)
  va_end(arguments);
  current_hook(level, message, current_context);
}

}  // namespace emio
