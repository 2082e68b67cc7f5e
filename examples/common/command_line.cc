// SPDX-License-Identifier: MIT
#include "common/command_line.h"

#include <cerrno>
#include <cstdarg>
#include <cstdio>
#include <cstdlib>
#include <cstring>

namespace emio_examples {
namespace {

void print_usage(const char* program, std::span<const FlagSpec> specs, const char* notes) {
  std::printf("usage: %s [flags]\n", program);
  for (const FlagSpec& spec : specs) {
    char left[64];
    std::snprintf(left, sizeof left, "--%s%s%s", spec.name, spec.value_name != nullptr ? " " : "",
                  spec.value_name != nullptr ? spec.value_name : "");
    std::printf("  %-28s %s\n", left, spec.help);
  }
  std::printf("  %-28s %s\n", "--help", "print this help and exit");
  if (notes != nullptr) std::printf("\n%s", notes);
}

// The index of the spec named by `argument` ("--name" or "--name=value"), or -1.
int find_spec(std::span<const FlagSpec> specs, const char* argument, const char** inline_value) {
  const char* name = argument + 2;
  const char* equals = std::strchr(name, '=');
  const size_t name_length = equals != nullptr ? static_cast<size_t>(equals - name) : std::strlen(name);
  *inline_value = equals != nullptr ? equals + 1 : nullptr;
  for (size_t i = 0; i < specs.size(); ++i) {
    if (std::strlen(specs[i].name) == name_length && std::strncmp(specs[i].name, name, name_length) == 0) {
      return static_cast<int>(i);
    }
  }
  return -1;
}

}  // namespace

int usage_error(const char* program, const char* format, ...) {
  char message[200];
  va_list arguments;
  va_start(arguments, format);
  // va_start is right above: clang-tidy 14 reports an uninitialised va_list here only when it checks
  // several files in one run (scripts/lint.sh does), a false positive.
  (void)std::vsnprintf(message, sizeof message, format, arguments);  // NOLINT(clang-analyzer-valist.Uninitialized)
  va_end(arguments);
  std::fprintf(stderr, "%s: %s (see --help)\n", program, message);
  return exit_usage;
}

ParseOutcome parse_flags(const char* program, std::span<const FlagSpec> specs, std::span<const char*> values, int argc,
                         char** argv, const char* notes) {
  for (const char*& value : values) value = nullptr;
  for (int i = 1; i < argc; ++i) {
    const char* argument = argv[i];
    if (std::strcmp(argument, "--help") == 0 || std::strcmp(argument, "-h") == 0) {
      print_usage(program, specs, notes);
      return ParseOutcome::help_shown;
    }
    if (std::strncmp(argument, "--", 2) != 0) {
      (void)usage_error(program, "unexpected argument '%s'", argument);
      return ParseOutcome::usage_error;
    }
    const char* inline_value = nullptr;
    const int index = find_spec(specs, argument, &inline_value);
    if (index < 0) {
      (void)usage_error(program, "unknown flag '%s'", argument);
      return ParseOutcome::usage_error;
    }
    const FlagSpec& spec = specs[static_cast<size_t>(index)];
    if (values[static_cast<size_t>(index)] != nullptr) {
      (void)usage_error(program, "--%s given twice", spec.name);
      return ParseOutcome::usage_error;
    }
    const char* value = "";
    if (spec.value_name == nullptr) {
      if (inline_value != nullptr) {
        (void)usage_error(program, "--%s takes no value", spec.name);
        return ParseOutcome::usage_error;
      }
    } else if (inline_value != nullptr) {
      value = inline_value;
    } else if (i + 1 < argc) {
      value = argv[++i];
    } else {
      (void)usage_error(program, "--%s needs a value %s", spec.name, spec.value_name);
      return ParseOutcome::usage_error;
    }
    values[static_cast<size_t>(index)] = value;
  }
  return ParseOutcome::run;
}

bool parse_unsigned(const char* text, uint32_t minimum, uint32_t maximum, uint32_t* value) {
  if (text == nullptr || *text < '0' || *text > '9') return false;
  errno = 0;
  char* end = nullptr;
  const unsigned long long parsed = std::strtoull(text, &end, 10);
  if (errno != 0 || *end != '\0' || parsed < minimum || parsed > maximum) return false;
  *value = static_cast<uint32_t>(parsed);
  return true;
}

}  // namespace emio_examples
