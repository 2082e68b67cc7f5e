// A minimal HTTP/1.1 server for Prometheus scrapes: `GET /metrics` answers the text exposition format
// (version 0.0.4) that the render function writes; anything else gets 404. One request per connection
// (Connection: close), a fixed number of sessions with fixed buffers: a scraper is not a browser.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>

#include "emio/runtime/executor.h"
#include "emio/runtime/io_watch.h"
#include "emio/runtime/stream.h"

namespace emio_examples {

// Writes the metrics body into `text`; returns its length (cut to fit).
using RenderMetrics = size_t (*)(std::span<char> text, void* context);

class MetricsServer {
 public:
  static constexpr uint32_t session_capacity = 4;
  static constexpr size_t request_bytes = 1024;
  static constexpr size_t response_bytes = 4096;

  void start(emio::Executor& executor, emio::TcpListener listener, RenderMetrics render, void* context);
  void close_all();

  uint64_t requests_served() const { return requests_served_; }

 private:
  struct Session {
    emio::TcpStream stream;
    emio::IoWatch read_watch;
    emio::IoWatch write_watch;
    MetricsServer* server = nullptr;
    size_t request_size = 0;
    size_t response_size = 0;
    size_t response_sent = 0;
    bool in_use = false;
    char request[request_bytes];
    char response[response_bytes];
  };

  static void on_accept(void* self, emio::ReadyEvent event);
  static void on_readable(void* session, emio::ReadyEvent event);
  static void on_writable(void* session, emio::ReadyEvent event);

  void accept_pending();
  Session* free_session();
  void read_request(Session& session);
  void prepare_response(Session& session);
  void send_response(Session& session);
  void end(Session& session);

  emio::Executor* executor_ = nullptr;
  emio::TcpListener listener_;
  emio::IoWatch accept_watch_;
  RenderMetrics render_ = nullptr;
  void* render_context_ = nullptr;
  uint64_t requests_served_ = 0;
  Session sessions_[session_capacity];
};

}  // namespace emio_examples
