// SPDX-License-Identifier: MIT
// Command-line parsing shared by the example daemons: `--name VALUE`, `--name=VALUE` and switches.
// Bad input is the operator's mistake, not a crash: every parser prints one line on stderr and the
// program exits with exit_usage (2), the convention of BSD's sysexits and of most Unix tools.
#pragma once

#include <cstdint>
#include <span>

namespace emio_examples {

inline constexpr int exit_ok = 0;
inline constexpr int exit_failure = 1;
inline constexpr int exit_usage = 2;
// Not an exit code: what option readers return when the program should go on and run.
inline constexpr int keep_running = -1;

struct FlagSpec {
  const char* name;        // without the leading dashes: "listen"
  const char* value_name;  // "ADDR:PORT" in --help; nullptr for a switch, which takes no value
  const char* help;        // one line for --help, stating the default
};

enum class ParseOutcome : uint8_t { run, help_shown, usage_error };

// Parses argv against `specs`; values[i] is the text given for specs[i] (nullptr when absent, "" for a
// switch that was given). Repeated flags, unknown flags, positional words and missing values are usage
// errors. --help prints the usage, then `notes` (signals, exit codes), and the program exits 0.
ParseOutcome parse_flags(const char* program, std::span<const FlagSpec> specs, std::span<const char*> values, int argc,
                         char** argv, const char* notes = nullptr);

// Prints "PROGRAM: MESSAGE (see --help)" on stderr; returns exit_usage so callers can `return` it.
int usage_error(const char* program, const char* format, ...) __attribute__((format(printf, 2, 3)));

// Decimal in [minimum, maximum], nothing else (no sign, no spaces, no trailing text).
bool parse_unsigned(const char* text, uint32_t minimum, uint32_t maximum, uint32_t* value);

}  // namespace emio_examples
