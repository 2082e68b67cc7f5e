// SPDX-License-Identifier: MIT
// The log hook: the library reports the few things an operator must know (a backend fallback, for
// instance) through one function the application sets. The default writes a line to stderr.
#pragma once

namespace emio {

enum class LogLevel : unsigned char { info, warning, error };

using LogHook = void (*)(LogLevel level, const char* message, void* context);

// Not thread-safe against concurrent log calls: set it at init, before starting threads.
void set_log_hook(LogHook hook, void* context);
// printf-style; the message is cut at 255 characters, never allocated.
#if defined(_WIN32)
// mingw's libstdc++ turns on __USE_MINGW_ANSI_STDIO: its printf family is C99's (%zu, %llu), not msvcrt's.
void log_message(LogLevel level, const char* format, ...) __attribute__((format(gnu_printf, 2, 3)));
#else
void log_message(LogLevel level, const char* format, ...) __attribute__((format(printf, 2, 3)));
#endif

}  // namespace emio
