// SPDX-License-Identifier: MIT
// The example daemons' command lines (examples/common): parse_flags over argv words, then the readers of
// the values they take (parse_unsigned, parse_address_flag, parse_backend_flag). The input is the argv
// words separated by NUL bytes. Messages go to stdout and stderr: the ctest run masks them
// (-close_fd_mask=3), libFuzzer's own report still shows.
#include <fuzzer/FuzzedDataProvider.h>

#include <cstdint>
#include <cstdio>
#include <cstring>

#include "common/command_line.h"
#include "common/daemon_setup.h"
#include "fuzz/fuzz_check.h"

namespace {

using emio_examples::FlagSpec;
using emio_examples::ParseOutcome;

constexpr int max_words = 16;
constexpr size_t max_input_bytes = 1024;

// Flags of both kinds, as the daemons declare them: valued ones and a switch.
constexpr FlagSpec flag_specs[] = {
    {"listen", "ADDR:PORT", "address"}, {"backend", "NAME", "backend"},     {"max-clients", "N", "clients"},
    {"baud", "N", "baud rate"},         {"lock-memory", nullptr, "switch"},
};
constexpr size_t flag_count = sizeof flag_specs / sizeof flag_specs[0];

// The decimal text of `value` equals `text` once its leading zeros are skipped (parse_unsigned takes no
// sign, space or trailing byte).
bool is_decimal_of(const char* text, uint32_t value) {
  while (text[0] == '0' && text[1] != '\0') ++text;
  char printed[16];
  (void)std::snprintf(printed, sizeof printed, "%u", value);
  return std::strcmp(printed, text) == 0;
}

void check_values(const char* const* values) {
  for (size_t i = 0; i < flag_count; ++i) {
    const char* value = values[i];
    if (value == nullptr) continue;
    if (flag_specs[i].value_name == nullptr) FUZZ_CHECK(value[0] == '\0', "a switch was given a value");
    uint32_t number = 0;
    if (emio_examples::parse_unsigned(value, 1, 1000000, &number)) {
      FUZZ_CHECK(number >= 1 && number <= 1000000 && is_decimal_of(value, number), "parse_unsigned took junk");
    }
    emio::SocketAddress address;
    if (emio_examples::parse_address_flag("fuzz", "listen", value, &address)) {
      FUZZ_CHECK(address.is_ip(), "an --listen value parsed to no IP address");
    }
    emio::BackendChoice choice{};
    if (emio_examples::parse_backend_flag("fuzz", value, &choice)) {
      FUZZ_CHECK(emio::backend_choice_compiled_in(choice), "a backend not compiled in was accepted");
    }
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size > max_input_bytes) return 0;
  static char text[max_input_bytes + 1];
  std::memcpy(text, data, size);
  text[size] = '\0';
  char program[] = "fuzz";
  char* argv[max_words + 1] = {program};
  int argc = 1;
  for (size_t start = 0; start <= size && argc < max_words; start += std::strlen(text + start) + 1) {
    argv[argc++] = text + start;
  }
  const char* values[flag_count];
  const ParseOutcome outcome = emio_examples::parse_flags("fuzz", flag_specs, values, argc, argv);
  if (outcome == ParseOutcome::run) check_values(values);
  return 0;
}
