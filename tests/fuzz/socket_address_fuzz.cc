// SPDX-License-Identifier: MIT
// SocketAddress::parse on any text: it must never read past the text, an address it accepts must write
// back (format) into text that parses to the same address, and a refusal is EINVAL or ENAMETOOLONG.
#include <cerrno>
#include <cstdint>
#include <string_view>

#include "emio/runtime/address.h"
#include "fuzz/fuzz_check.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  emio::Result<emio::SocketAddress> parsed = emio::SocketAddress::parse(text);
  if (!parsed.ok()) {
    const emio::Error error = parsed.error();
    FUZZ_CHECK(error == emio::Error::from_errno(EINVAL) || error == emio::Error::from_errno(ENAMETOOLONG),
               "parse refused with an error it does not document");
    return 0;
  }
  const emio::SocketAddress& address = parsed.value();
  FUZZ_CHECK(address.is_ip() || address.is_unix(), "parse accepted an address of no family");
  char written[emio::SocketAddress::max_text_bytes];
  const size_t length = address.format(written);
  FUZZ_CHECK(length < sizeof written && written[length] == '\0', "format overran or did not terminate");
  emio::Result<emio::SocketAddress> again = emio::SocketAddress::parse(std::string_view(written, length));
  FUZZ_CHECK(again.ok() && again.value() == address, "the formatted address does not parse back to itself");
  return 0;
}
