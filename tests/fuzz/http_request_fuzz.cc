// SPDX-License-Identifier: MIT
// The metrics server's HTTP request reader (examples/bridge/http_request.h) on bytes that arrive in
// pieces, as the server reads them: into its fixed request buffer until the head is complete or the
// buffer is full, then the answer formatted into the fixed response buffer. The first input byte sets
// the size of each piece (a client that sends a byte at a time, or all at once).
#include <algorithm>
#include <cstdint>
#include <cstring>
#include <string_view>

#include "bridge/http_request.h"
#include "bridge/metrics_server.h"
#include "fuzz/fuzz_check.h"

namespace {

using emio_examples::MetricsServer;

// The head as the server holds it when it answers: cut at the buffer's size, or where it completed.
size_t read_head(const uint8_t* data, size_t size, size_t piece_bytes, char* request) {
  size_t held = 0;
  while (held < size && held < MetricsServer::request_bytes) {
    const size_t piece = std::min({piece_bytes, size - held, MetricsServer::request_bytes - held});
    std::memcpy(request + held, data + held, piece);
    held += piece;
    if (emio_examples::request_complete(std::string_view(request, held))) break;
  }
  return held;
}

void check_response(std::string_view request, std::string_view response, std::string_view body) {
  const bool found = emio_examples::asks_for_metrics(request);
  FUZZ_CHECK(!found || request.starts_with("GET /metrics"), "a request for another path got the metrics");
  FUZZ_CHECK(response.starts_with("HTTP/1.1 "), "the answer has no status line");
  FUZZ_CHECK(response.size() <= MetricsServer::response_bytes, "the answer overran its buffer");
  FUZZ_CHECK(response.find("\r\n\r\n") != std::string_view::npos, "the answer's head does not end");
  FUZZ_CHECK(response.ends_with(body) || response.size() == MetricsServer::response_bytes,
             "the body was cut though it fitted");
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) return 0;
  const size_t piece_bytes = size_t{data[0]} + 1;
  static char request[MetricsServer::request_bytes];
  const size_t held = read_head(data + 1, size - 1, piece_bytes, request);
  const std::string_view head(request, held);
  // The body echoes the request, so that its size follows the input up to a full response buffer.
  static char response[MetricsServer::response_bytes];
  const size_t length = emio_examples::format_response(response, "200 OK", head);
  check_response(head, std::string_view(response, length), head);
  return 0;
}
