// SPDX-License-Identifier: MIT
#include "bridge/http_request.h"

#include <algorithm>
#include <cstdio>
#include <cstring>

namespace emio_examples {

// The empty line that ends the head. RFC 9112 (2.2) lets a server take a bare LF as a line end, and nc,
// printf and hand-typed requests send nothing else: "\n\n", or "\n\r\n" (which CRLF CRLF contains).
bool request_complete(std::string_view request) {
  return request.find("\n\n") != std::string_view::npos || request.find("\n\r\n") != std::string_view::npos;
}

bool asks_for_metrics(std::string_view request) {
  return request.starts_with("GET /metrics ") || request.starts_with("GET /metrics?");
}

size_t format_response(std::span<char> out, const char* status, std::string_view body) {
  const int header_size =
      std::snprintf(out.data(), out.size(),
                    "HTTP/1.1 %s\r\nContent-Type: text/plain; version=0.0.4; charset=utf-8\r\nContent-Length: %zu\r\n"
                    "Connection: close\r\n\r\n",
                    status, body.size());
  const size_t header_bytes = std::min(static_cast<size_t>(header_size), out.size());
  const size_t body_bytes = std::min(body.size(), out.size() - header_bytes);
  std::memcpy(out.data() + header_bytes, body.data(), body_bytes);
  return header_bytes + body_bytes;
}

}  // namespace emio_examples
