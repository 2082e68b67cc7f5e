// SPDX-License-Identifier: MIT
// A minimal HTTP/1.1 server for Prometheus scrapes: `GET /metrics` answers the text exposition format
// (version 0.0.4) that the render function writes; anything else gets 404. One request per connection
// (Connection: close), a fixed number of sessions with fixed buffers: a scraper is not a browser.
//
// Slow and hostile clients must not lock the page out. Each request has a deadline (a timer per session)
// and is answered 408 when it passes; head lines may end in CRLF or a bare LF. A connection arriving when
// every session is busy takes the session of a request still incomplete after evictable_after_ms (a
// scraper sends its request at once, a slowloris client never finishes one), or else is answered 503 at
// once and closed. Both are counted.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>

#include "common/accept_watch.h"
#include "emio/runtime/executor.h"
#include "emio/runtime/io_watch.h"
#include "emio/runtime/stream.h"
#include "emio/runtime/timer.h"

namespace emio_examples {

// Writes the metrics body into `text`; returns its length (cut to fit).
using RenderMetrics = size_t (*)(std::span<char> text, void* context);

class MetricsServer {
 public:
  static constexpr uint32_t session_capacity = 4;  // each holds a timer: the executor needs as many free
  static constexpr size_t request_bytes = 1024;
  static constexpr size_t response_bytes = 8192;  // the page is about 3 KB: room for more metrics
  static constexpr uint32_t default_request_timeout_ms = 5000;
  static constexpr uint32_t evictable_after_ms = 250;

  void start(emio::Executor& executor, emio::TcpListener listener, RenderMetrics render, void* context,
             uint32_t request_timeout_ms);
  void close_all();

  uint64_t requests_served() const { return requests_served_; }
  uint64_t requests_refused() const { return requests_refused_; }          // 503: every session busy
  uint64_t slow_requests_closed() const { return slow_requests_closed_; }  // 408: deadline, or evicted

 private:
  struct Session {
    emio::TcpStream stream;
    emio::IoWatch read_watch;
    emio::IoWatch write_watch;
    MetricsServer* server = nullptr;
    emio::Timer deadline;  // the request's: started when the connection takes the session
    uint64_t started_ms = 0;
    size_t request_size = 0;
    size_t response_size = 0;
    size_t response_sent = 0;
    bool in_use = false;
    char request[request_bytes];
    char response[response_bytes];
  };

  static void on_readable(void* session, emio::ReadyEvent event);
  static void on_writable(void* session, emio::ReadyEvent event);
  static void on_deadline(emio::Timer& timer, void* session);

  void admit(emio::TcpStream stream);
  Session* free_session();
  Session* evictable_session();
  void close_slow(Session& session);
  void read_request(Session& session);
  void prepare_response(Session& session);
  void send_response(Session& session);
  void end(Session& session);

  emio::Executor* executor_ = nullptr;
  emio::TcpListener listener_;
  AcceptWatch accept_watch_{"metrics"};
  RenderMetrics render_ = nullptr;
  void* render_context_ = nullptr;
  uint32_t request_timeout_ms_ = default_request_timeout_ms;
  uint64_t requests_served_ = 0;
  uint64_t requests_refused_ = 0;
  uint64_t slow_requests_closed_ = 0;
  Session sessions_[session_capacity];
};

}  // namespace emio_examples
