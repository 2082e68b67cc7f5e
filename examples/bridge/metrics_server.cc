// SPDX-License-Identifier: MIT
#include "bridge/metrics_server.h"

#include <cstdio>
#include <string_view>
#include <utility>

#include "bridge/http_request.h"
#include "emio/port/clock.h"
#include "emio/runtime/errors.h"

namespace emio_examples {
namespace {

constexpr size_t short_answer_bytes = 512;

// The answer to a connection that gets no session (503) or whose request took too long (408): nothing
// was sent on it yet, so its send buffer takes the one write whole; the caller closes it then. The
// request bytes received so far are read away first: closing with unread bytes sends a reset, which can
// destroy the answer before the client reads it. Bounded: a client still sending gets its reset.
void send_short_answer(emio::TcpStream& stream, const char* status, std::string_view body) {
  std::byte unread[short_answer_bytes];
  for (int round = 0; round < 4; ++round) {
    emio::Result<size_t> got = stream.try_read(unread);
    if (!got.ok() || got.value() < sizeof unread) break;
  }
  char response[short_answer_bytes];
  const size_t size = format_response(response, status, body);
  (void)stream.try_write(std::as_bytes(std::span<const char>(response, size)));
}

}  // namespace

void MetricsServer::start(emio::Executor& executor, emio::TcpListener listener, RenderMetrics render, void* context,
                          uint32_t request_timeout_ms) {
  executor_ = &executor;
  request_timeout_ms_ = request_timeout_ms;
  listener_ = std::move(listener);
  render_ = render;
  render_context_ = context;
  for (Session& session : sessions_) session.server = this;
  accept_watch_.start(
      executor, listener_,
      [](void* self, emio::TcpStream stream) { static_cast<MetricsServer*>(self)->admit(std::move(stream)); }, this);
}

void MetricsServer::admit(emio::TcpStream stream) {
  Session* session = free_session();
  if (session == nullptr) {
    session = evictable_session();
    if (session != nullptr) close_slow(*session);
  }
  if (session == nullptr ||
      executor_->timers().start_once(session->deadline, request_timeout_ms_, on_deadline, session).failed()) {
    requests_refused_ += 1;
    send_short_answer(stream, "503 Service Unavailable", "every metrics session is busy: retry\n");
    (void)stream.close();
    return;
  }
  session->stream = std::move(stream);
  session->in_use = true;
  session->started_ms = emio::monotonic_now_ms();
  session->request_size = session->response_size = session->response_sent = 0;
  (void)session->read_watch.arm(*executor_, session->stream.registration(), emio::Direction::read, on_readable,
                                session);
}

MetricsServer::Session* MetricsServer::free_session() {
  for (Session& session : sessions_) {
    if (!session.in_use) return &session;
  }
  return nullptr;
}

// Called when every session is busy: the one whose request has been read longest without completing, if
// that is evictable_after_ms or more. A session already answering is never taken.
MetricsServer::Session* MetricsServer::evictable_session() {
  Session* oldest = nullptr;
  for (Session& session : sessions_) {
    const bool reading = session.response_size == 0;
    if (reading && (oldest == nullptr || session.started_ms < oldest->started_ms)) oldest = &session;
  }
  if (oldest == nullptr || emio::monotonic_now_ms() - oldest->started_ms < evictable_after_ms) return nullptr;
  return oldest;
}

void MetricsServer::on_deadline(emio::Timer&, void* context) {
  auto* session = static_cast<Session*>(context);
  session->server->close_slow(*session);
}

// A request past its deadline, or evicted: 408 if it was still being read, then closed.
void MetricsServer::close_slow(Session& session) {
  slow_requests_closed_ += 1;
  if (session.response_size == 0) {
    send_short_answer(session.stream, "408 Request Timeout", "the request took too long\n");
  }
  end(session);
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
  session.response_size =
      format_response(session.response, found ? "200 OK" : "404 Not Found", std::string_view(body, body_size));
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
  (void)session.deadline.cancel();
  session.read_watch.disarm();
  session.write_watch.disarm();
  (void)session.stream.close();
  session.in_use = false;
}

void MetricsServer::close_all() {
  accept_watch_.stop();
  (void)listener_.close();
  for (Session& session : sessions_) {
    if (session.in_use) end(session);
  }
}

}  // namespace emio_examples
