// SPDX-License-Identifier: MIT
// The metrics server's reading of a request and writing of its answer, apart from the sockets, so that
// the fuzz target (tests/fuzz/http_request_fuzz.cc) reads bytes exactly as the server does.
#pragma once

#include <cstddef>
#include <span>
#include <string_view>

namespace emio_examples {

// True once `request` holds the empty line that ends the head.
bool request_complete(std::string_view request);
// True for a GET of /metrics (with or without a query).
bool asks_for_metrics(std::string_view request);
// The status line and headers, then as much of `body` as fits in `out`; returns the length written.
size_t format_response(std::span<char> out, const char* status, std::string_view body);

}  // namespace emio_examples
