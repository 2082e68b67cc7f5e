#include "bridge/metrics_server.h"

#include <cstdio>
#include <cstring>
#include <string_view>
#include <utility>

#include "emio/runtime/errors.h"

namespace emio_examples {
namespace {

constexpr int accepts_per_callback = 8;

bool request_complete(std::string_view request) { return request.find("\r\n\r\n") != std::string_view::npos; }

bool asks_for_metrics(std::string_view request) {
  return request.starts_with("GET /metrics ") || request.starts_with("GET /metrics?");
}

}  // namespace

void MetricsServer::start(emio::Executor& executor, emio::TcpListener listener, RenderMetrics render, void* context) {
  executor_ = &executor;
  listener_ = std::move(listener);
  render_ = render;
  render_context_ = context;
  for (Session& session : sessions_) session.server = this;
  (void)accept_watch_.arm(executor, listener_.registration(), emio::Direction::read, on_accept, this);
}

void MetricsServer::on_accept(void* self, emio::ReadyEvent event) {
  if (!event.shut_down) static_cast<MetricsServer*>(self)->accept_pending();
}

void MetricsServer::accept_pending() {
  for (int round = 0; round < accepts_per_callback; ++round) {
    emio::Result<emio::TcpStream> accepted = listener_.try_accept();
    if (!accepted.ok()) break;  // would_block, or EMFILE and the like: the next edge retries
    Session* session = free_session();
    if (session == nullptr) continue;  // every session busy: the scraper reads end of stream and retries
    session->stream = std::move(accepted.value());
    session->in_use = true;
    session->request_size = session->response_size = session->response_sent = 0;
    (void)session->read_watch.arm(*executor_, session->stream.registration(), emio::Direction::read, on_readable,
                                  session);
  }
  (void)accept_watch_.arm(*executor_, listener_.registration(), emio::Direction::read, on_accept, this);
}

MetricsServer::Session* MetricsServer::free_session() {
  for (Session& session : sessions_) {
    if (!session.in_use) return &session;
  }
  return nullptr;
}

void MetricsServer::on_readable(void* context, emio::ReadyEvent event) {
  auto* session = static_cast<Session*>(context);
  if (!event.shut_down) session->server->read_request(*session);
}

void MetricsServer::read_request(Session& session) {
  for (;;) {
    std::span<std::byte> space(reinterpret_cast<std::byte*>(session.request) + session.request_size,
                               request_bytes - session.request_size);
    if (space.empty()) break;  // a request this long is not a scrape: answer 404
    emio::Result<size_t> got = session.stream.try_read(space);
    if (emio::is_would_block(got)) {
      (void)session.read_watch.arm(*executor_, session.stream.registration(), emio::Direction::read, on_readable,
                                   &session);
      return;
    }
    if (!got.ok() || got.value() == 0) return end(session);
    session.request_size += got.value();
    if (request_complete(std::string_view(session.request, session.request_size))) break;
  }
  prepare_response(session);
  send_response(session);
}

void MetricsServer::prepare_response(Session& session) {
  const std::string_view request(session.request, session.request_size);
  char body[response_bytes - 256];
  size_t body_size = 0;
  const bool found = asks_for_metrics(request);
  if (found) {
    body_size = render_(std::span<char>(body), render_context_);
    requests_served_ += 1;
  } else {
    body_size = static_cast<size_t>(std::snprintf(body, sizeof body, "not found: try GET /metrics\n"));
  }
  const int header_size =
      std::snprintf(session.response, response_bytes,
                    "HTTP/1.1 %s\r\nContent-Type: text/plain; version=0.0.4; charset=utf-8\r\nContent-Length: %zu\r\n"
                    "Connection: close\r\n\r\n",
                    found ? "200 OK" : "404 Not Found", body_size);
  std::memcpy(session.response + header_size, body, body_size);
  session.response_size = static_cast<size_t>(header_size) + body_size;
}

void MetricsServer::on_writable(void* context, emio::ReadyEvent event) {
  auto* session = static_cast<Session*>(context);
  if (!event.shut_down) session->server->send_response(*session);
}

void MetricsServer::send_response(Session& session) {
  while (session.response_sent < session.response_size) {
    std::span<const std::byte> rest(reinterpret_cast<const std::byte*>(session.response) + session.response_sent,
                                    session.response_size - session.response_sent);
    emio::Result<size_t> sent = session.stream.try_write(rest);
    if (emio::is_would_block(sent)) {
      (void)session.write_watch.arm(*executor_, session.stream.registration(), emio::Direction::write, on_writable,
                                    &session);
      return;
    }
    if (!sent.ok()) break;
    session.response_sent += sent.value();
  }
  end(session);
}

void MetricsServer::end(Session& session) {
  session.read_watch.disarm();
  session.write_watch.disarm();
  (void)session.stream.close();
  session.in_use = false;
}

void MetricsServer::close_all() {
  accept_watch_.disarm();
  (void)listener_.close();
  for (Session& session : sessions_) {
    if (session.in_use) end(session);
  }
}

}  // namespace emio_examples
