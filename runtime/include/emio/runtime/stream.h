// SPDX-License-Identifier: MIT
// Stream sockets: TcpStream and UnixStream (connect, read, write, shutdown), and the listeners that
// accept them (TcpListener, UnixListener). Non-blocking; errors are the OS's, unchanged:
//   bind: EADDRINUSE (another socket holds the address), EACCES (a port below 1024 without privilege);
//   connect: ECONNREFUSED (nobody listens), ETIMEDOUT, ENETUNREACH;
//   read/write: ECONNRESET (the peer reset), EPIPE (writing after the peer closed);
//   accept and socket creation: EMFILE (this process's fd limit), ENFILE (the system's).
// try_read returning 0 means the peer closed its side (end of stream).
#pragma once

#include <cerrno>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <string_view>
#include <utility>

#include "emio/driver/handle.h"
#include "emio/port/result.h"
#include "emio/port/socket.h"
#include "emio/runtime/address.h"
#include "emio/runtime/errors.h"
#include "emio/runtime/executor.h"
#include "emio/runtime/native_stream.h"
#include "emio/runtime/poll_fd.h"
#include "emio/runtime/read_view.h"
#include "emio/runtime/socket_calls.h"

namespace emio {

class ByteStream;

// The awaitable of ByteStream::read, write and write_all, Result<size_t>: through the stream's record of
// completion operations when its driver runs them (chosen at the first poll), else by readiness: the
// system call first when the readiness word says ready, the waker stored only when it does not.
class [[nodiscard]] StreamTransferOp {
 public:
  using Output = Result<size_t>;
  enum class Kind : uint8_t { read, write, write_all };
  StreamTransferOp(ByteStream& stream, Kind kind, std::span<const std::byte> bytes)
      : stream_(&stream), bytes_(bytes), kind_(kind) {}
  StreamTransferOp(StreamTransferOp&& other) noexcept = default;

  // Inline, with the readiness path below: every await polls at least once, and the calls down to the
  // system call cost more than the steps they take (bench/results/lean-path.md).
  bool poll(PollContext& context);
  Output take_output() { return std::move(*output_); }
  void cancel();

 private:
  enum class Route : uint8_t { unchosen, readiness, native };
  template <Kind kind>
  bool poll_readiness(const Waker& waker);
  bool poll_native(PollContext& context);
  bool finish(Result<size_t> output) {
    output_.emplace(std::move(output));
    return true;
  }
  Direction direction() const { return kind_ == Kind::read ? Direction::read : Direction::write; }

  ByteStream* stream_;
  std::span<const std::byte> bytes_;
  NativeStream* native_ = nullptr;
  Token native_claim_{};  // native_->token() when this op took it (NativeStream::held_by)
  std::optional<Result<size_t>> output_;
  size_t written_ = 0;  // write_all: bytes sent so far
  Kind kind_;
  Route route_ = Route::unchosen;  // chosen at the first poll
  // Readiness: the registration that holds this op's waker (io null: none). A copy, not read through
  // stream_ at cancel: a task may be destroyed after its stream was (emio-echo's shutdown releases every
  // connection, then the executor destroys the parked tasks), and the token says whether it still counts.
  Registration parked_{};
};

// What every byte stream shares: TcpStream and UnixStream (recv/send), a pipe's ends and a SerialPort
// (read/write, ByteTransfer::file). Awaits go through the stream's record of completion operations on a
// driver that runs them (native_stream.h), else through readiness; try_ calls are the system call once
// (on a stream with a record, after what the record holds: NativeStream::try_read_first).
class ByteStream : public IoResource {
 public:
  ByteStream() = default;
  ByteStream(PollFd source, ByteTransfer transfer) : IoResource(std::move(source)), transfer_(transfer) {}
  ByteStream(ByteStream&& other) noexcept = default;
  ByteStream& operator=(ByteStream&& other) noexcept;
  ByteStream(const ByteStream&) = delete;
  ByteStream& operator=(const ByteStream&) = delete;
  ~ByteStream() { (void)close(); }

  // recv(2) or read(2): bytes read, 0 when the peer closed its side (every write end of a pipe closed).
  // ECONNRESET when it reset. A read shorter than the buffer (or a write shorter than the data) also
  // clears the readiness it saw: the queue is empty (full), and the next await parks at once.
  Result<size_t> try_read(std::span<std::byte> buffer);
  // send(2) with MSG_NOSIGNAL (no SIGPIPE), or write(2) (a pipe whose reader is gone raises SIGPIPE unless
  // ignored, as daemons do): bytes written, maybe fewer than given. EPIPE once closed.
  Result<size_t> try_write(std::span<const std::byte> data);
  // Awaitables, Result<size_t>: once something could be read / written. On a driver that runs completion
  // operations natively they go through the ring (native_stream.h; a write then takes at most
  // NativeStreamOptions::buffer_bytes at a time), else through readiness and the system calls above.
  StreamTransferOp read(std::span<std::byte> buffer) {
    return StreamTransferOp(*this, StreamTransferOp::Kind::read, buffer);
  }
  StreamTransferOp write(std::span<const std::byte> data) {
    return StreamTransferOp(*this, StreamTransferOp::Kind::write, data);
  }
  // Awaitable, Result<ReceivedBytes>: the bytes of one receive lent in place (read_view.h), no buffer of
  // the caller's; empty at end of stream. Release them before the next read (on io_uring that read answers
  // EBUSY until then).
  ReadViewOp read_view() { return ReadViewOp(*this); }
  // The same for text: characters are bytes here.
  StreamTransferOp read(std::span<char> buffer) { return read(std::as_writable_bytes(buffer)); }
  StreamTransferOp write(std::string_view text) { return write(std::as_bytes(std::span(text))); }
  // A char array is measured by its size, never by strlen (through std::string_view, a `char buf[N]` was
  // cut at its first NUL, or read past its end without one: review defect 8). A writable array is a
  // buffer, as for read: all N bytes. A const one is text, a literal: without its terminating NUL.
  template <size_t N>
  StreamTransferOp write(char (&buffer)[N]) {
    return write(std::as_bytes(std::span(buffer)));
  }
  template <size_t N>
  StreamTransferOp write(const char (&text)[N]) {
    return write(text_bytes(text));
  }
  // Awaitable, Result<size_t>: writes all of `data`, however many sends and waits it takes; the size of
  // `data` once done, or the first error (bytes before it were sent). `data` must stay valid until then.
  StreamTransferOp write_all(std::span<const std::byte> data) {
    return StreamTransferOp(*this, StreamTransferOp::Kind::write_all, data);
  }
  StreamTransferOp write_all(std::string_view text) { return write_all(std::as_bytes(std::span(text))); }
  // Char arrays as for write.
  template <size_t N>
  StreamTransferOp write_all(char (&buffer)[N]) {
    return write_all(std::as_bytes(std::span(buffer)));
  }
  template <size_t N>
  StreamTransferOp write_all(const char (&text)[N]) {
    return write_all(text_bytes(text));
  }

  // Deregisters and closes. With completion operations in flight, cancels the receive and gives the
  // last send a linger; the fd closes once they have ended (native_stream.h).
  Error close();
  ByteTransfer transfer() const { return transfer_; }
  // The stream's record for completion operations on `executor`'s driver; null: readiness. Taking one
  // drops the stream's readiness registration (PollFd::forget_readiness): readiness awaits and IoWatch
  // do not apply to a stream on the ring.
  NativeStream* native_record(Executor& executor) {
    // Answered here, inline, in both cases that every await asks about: a stream that holds its record
    // already (on the ring), and a readiness driver, which has none. The out-of-line lease lookup cost
    // emio-echo about 60 instructions per request on epoll, and 32 on io_uring (bench/results/lean-path.md).
    if (native_.held()) return native_.record();
    if (executor.native_streams().capacity() == 0) return nullptr;
    return take_native_record(executor);
  }

 protected:
  // Drops what the stream's record received and was not read yet, if it has a record (NativeStream).
  void discard_received() {
    if (native_.held()) native_.record()->discard_received();
  }
  // A const char array's text: all of it but a terminating NUL.
  template <size_t N>
  static std::span<const std::byte> text_bytes(const char (&text)[N]) {
    return std::as_bytes(std::span(text, text[N - 1] == '\0' ? N - 1 : N));
  }

 private:
  NativeStream* take_native_record(Executor& executor);

  NativeStreamLease native_;  // destroyed before the fd closes: cancels first
  ByteTransfer transfer_ = ByteTransfer::socket;
};

// What TcpStream and UnixStream share.
class StreamSocket : public ByteStream {
 public:
  StreamSocket() = default;
  explicit StreamSocket(PollFd source, bool connecting = false)
      : ByteStream(std::move(source), ByteTransfer::socket), connecting_(connecting) {}
  StreamSocket(StreamSocket&& other) noexcept = default;
  StreamSocket& operator=(StreamSocket&& other) noexcept;
  StreamSocket(const StreamSocket&) = delete;
  StreamSocket& operator=(const StreamSocket&) = delete;
  ~StreamSocket() = default;

  // shutdown(SHUT_WR): the peer reads end of stream; reading here still works.
  Error shutdown_write();

  // After connect_start: Error{} once connected, in_progress while connecting, or why it failed
  // (ECONNREFUSED, ETIMEDOUT, ...). The answer is final once the socket was reported writable.
  Error connect_result();

  Result<SocketAddress> local_address() const;
  Result<SocketAddress> peer_address() const;

 private:
  bool connecting_ = false;
  Error connect_error_{};
};

namespace detail {
// A read's buffer, kept as the bytes every StreamTransferOp holds.
inline std::span<std::byte> writable(std::span<const std::byte> bytes) {
  return {const_cast<std::byte*>(bytes.data()), bytes.size()};  // NOLINT(cppcoreguidelines-pro-type-const-cast)
}

// recv(2) or read(2), send(2) or write(2) of a stream, `seen` taken before the call
// (PollFd::transfer_seen). A byte stream: a short transfer drained the direction (see PollFd::try_io).
inline Result<size_t> receive(PollFd& source, ByteTransfer transfer, uint64_t seen, std::span<std::byte> buffer) {
  return source.transfer_seen(
      seen, Direction::read,
      [&] {
        return transfer == ByteTransfer::socket ? recv_fd(source.fd(), buffer.data(), buffer.size())
                                                : read_fd(source.fd(), buffer.data(), buffer.size());
      },
      buffer.size());
}

inline Result<size_t> send_some(PollFd& source, ByteTransfer transfer, uint64_t seen, std::span<const std::byte> data) {
  return source.transfer_seen(
      seen, Direction::write,
      [&] {
        return transfer == ByteTransfer::socket ? send_fd(source.fd(), data.data(), data.size())
                                                : write_fd(source.fd(), data.data(), data.size());
      },
      data.size());
}
}  // namespace detail

inline bool StreamTransferOp::poll(PollContext& context) {
  if (route_ == Route::unchosen) {
    native_ = stream_->native_record(context.executor);
    route_ = native_ != nullptr ? Route::native : Route::readiness;
    if (native_ != nullptr) native_claim_ = native_->token();
  }
  if (route_ == Route::native) return poll_native(context);
  switch (kind_) {
    case Kind::read:
      return poll_readiness<Kind::read>(context.waker);
    case Kind::write:
      return poll_readiness<Kind::write>(context.waker);
    case Kind::write_all:
      break;
  }
  return poll_readiness<Kind::write_all>(context.waker);
}

// IoOp's rounds (poll_fd.h), with the transfer written out for each kind (its direction a constant, the
// readiness word loaded once per attempt): write_all sends until done, and a send that filled the queue
// cleared the readiness it saw, so the next gate parks without a send that would say EAGAIN.
template <StreamTransferOp::Kind kind>
bool StreamTransferOp::poll_readiness(const Waker& waker) {
  constexpr Direction direction = kind == Kind::read ? Direction::read : Direction::write;
  PollFd& source = stream_->source();
  parked_ = {};
  for (int blocked = 0; blocked < io_attempt_rounds;) {
    uint64_t seen = 0;
    const IoGate gate = readiness_gate<direction>(source.registration(), waker, seen);
    if (gate == IoGate::wait) {
      parked_ = source.registration();
      return false;
    }
    if (gate != IoGate::go) return finish(gate_error(gate));
    if (kind == Kind::write_all && written_ == bytes_.size()) return finish(written_);
    Result<size_t> done = kind == Kind::read
                              ? detail::receive(source, stream_->transfer(), seen, detail::writable(bytes_))
                              : detail::send_some(source, stream_->transfer(), seen, bytes_.subspan(written_));
    if (is_would_block(done)) {
      blocked += 1;
      continue;
    }
    if (kind != Kind::write_all || !done.ok()) return finish(std::move(done));
    written_ += done.value();
    if (written_ == bytes_.size()) return finish(written_);  // without another look at the readiness
  }
  waker.wake();
  return false;
}

// ReadViewOp's polls, inline here for the same reason as StreamTransferOp's (every read view of a daemon
// goes through them; out of line they cost emio-echo about 25 instructions per request). The ring's route
// stays in read_view.cc.
inline bool ReadViewOp::poll(PollContext& context) {
  if (pool_ == nullptr) {  // the first poll chooses the route
    pool_ = &context.executor.read_view_buffers();
    native_ = stream_->native_record(context.executor);
    if (native_ != nullptr) native_claim_ = native_->token();
    // A pool of none is known at once; it never changes, so the later polls need not look again.
    if (native_ == nullptr && pool_->count() == 0) return finish(Error::from_errno(ENOBUFS));
  }
  return native_ == nullptr ? poll_readiness(context.waker) : poll_native(context);
}

// StreamTransferOp's readiness rounds, with the buffer taken between the gate and the recv.
inline bool ReadViewOp::poll_readiness(const Waker& waker) {
  PollFd& source = stream_->source();
  parked_ = {};
  for (int blocked = 0; blocked < io_attempt_rounds;) {
    uint64_t seen = 0;
    const IoGate gate = readiness_gate<Direction::read>(source.registration(), waker, seen);
    if (gate == IoGate::wait) {
      leave_pool();  // a stream waiting for bytes holds no buffer, not even one handed over meanwhile
      parked_ = source.registration();
      return false;
    }
    if (gate != IoGate::go) return finish(gate_error(gate));
    if (buffer_ == nullptr) buffer_ = pool_->take_or_wait(waiter_, waker);
    if (buffer_ == nullptr) return false;  // the pool hands one over and calls the waker
    Result<size_t> done = detail::receive(source, stream_->transfer(), seen, std::span(buffer_, pool_->buffer_bytes()));
    if (is_would_block(done)) {
      blocked += 1;
      continue;
    }
    if (!done.ok()) return finish(done.error());
    if (done.value() == 0) return finish(ReceivedBytes{});
    const std::span<const std::byte> bytes(buffer_, done.value());
    output_.emplace(ReceivedBytes(bytes, release_to_pool, pool_, std::exchange(buffer_, nullptr)));
    return true;
  }
  leave_pool();
  waker.wake();
  return false;
}

// The awaitable connect of TcpStream::connect and UnixStream::connect: Result<Stream>, connected or the
// reason it failed. Uses the awaiting task's executor for the driver handle.
template <typename Stream>
class [[nodiscard]] ConnectOp {
 public:
  using Output = Result<Stream>;
  explicit ConnectOp(const SocketAddress& address) : address_(address) {}
  ConnectOp(ConnectOp&& other) noexcept : address_(other.address_) {}  // only before the first poll

  bool poll(PollContext& context) {
    if (!started_) {
      started_ = true;
      Result<Stream> started = Stream::connect_start(context.executor.handle(), address_);
      if (!started.ok()) return finish(started.error());
      stream_.emplace(std::move(started.value()));
    }
    waiting_ = false;
    for (;;) {
      const Error result = stream_->connect_result();
      if (result != in_progress) return finish(result);
      const ReadyEvent event = stream_->registration().io->poll_ready(Direction::write, context.waker);
      if (event.shut_down) return finish(Error::shut_down);
      if (!event.is_ready()) {
        waiting_ = true;
        return false;
      }
      stream_->registration().io->clear_readiness(event);  // writable before connected: wait for the next edge
    }
  }
  Output take_output() {
    if (error_.failed()) return error_;
    return std::move(*stream_);
  }
  void cancel() {
    if (waiting_) stream_->registration().io->clear_waker(Direction::write);
    waiting_ = false;
    stream_.reset();  // closes the half-open socket
  }

 private:
  bool finish(Error error) {
    error_ = error;
    return true;
  }

  SocketAddress address_;
  std::optional<Stream> stream_;
  Error error_{};
  bool started_ = false;
  bool waiting_ = false;
};

class TcpStream : public StreamSocket {
 public:
  using StreamSocket::StreamSocket;
  // The address family a TcpStream connects to and a TcpListener binds: IPv4 or IPv6.
  static bool accepts(const SocketAddress& address) { return address.is_ip(); }

  // Starts a non-blocking connect; the stream is registered (readable | writable) and becomes writable
  // when the connect ends: then connect_result() says how. Errors now: EINVAL for a non-IP address,
  // EMFILE/ENFILE, or an immediate failure of connect().
  static Result<TcpStream> connect_start(Handle handle, const SocketAddress& address);
  // Awaitable: Result<TcpStream>, connected, or ECONNREFUSED and the like.
  static ConnectOp<TcpStream> connect(const SocketAddress& address) { return ConnectOp<TcpStream>(address); }

  // TCP_NODELAY: send small writes at once instead of coalescing them (Nagle).
  Error set_nodelay(bool enabled);
};

class UnixStream;
struct UnixStreamPair;

class UnixStream : public StreamSocket {
 public:
  using StreamSocket::StreamSocket;
  // Unix-domain addresses only.
  static bool accepts(const SocketAddress& address) { return address.is_unix(); }

  // As TcpStream::connect_start, for a Unix-domain address (EINVAL otherwise; ENOENT: no such socket).
  static Result<UnixStream> connect_start(Handle handle, const SocketAddress& address);
  // Awaitable: Result<UnixStream>, connected, or ENOENT / ECONNREFUSED and the like.
  static ConnectOp<UnixStream> connect(const SocketAddress& address) { return ConnectOp<UnixStream>(address); }
  // Two connected streams (socketpair), both registered.
  static Result<UnixStreamPair> pair(Handle handle);
};

struct UnixStreamPair {
  UnixStream first;
  UnixStream second;
};

template <typename Stream>
class StreamListener;

// The awaitable of StreamListener::accept, Result<Stream>: through the listener's accepts on the ring when
// its driver runs operations natively (native_listener.h; chosen at the first poll), else by readiness
// and accept4 (IoOp).
template <typename Stream>
class [[nodiscard]] AcceptOp {
 public:
  using Output = Result<Stream>;
  AcceptOp(StreamListener<Stream>& listener, SocketAddress* peer)
      : listener_(&listener),
        peer_(peer),
        readiness_(listener.registration(), Direction::read, Attempt{&listener, peer}) {}
  AcceptOp(AcceptOp&& other) noexcept = default;

  bool poll(PollContext& context) {
    if (!chosen_) {
      chosen_ = true;
      native_ = listener_->native_record(context.executor);
    }
    if (native_ == nullptr) return readiness_.poll(context);
    std::optional<Result<Fd>> accepted;
    if (!native_->poll_accept(context.waker, accepted)) return false;
    output_.emplace(listener_->adopt_accepted(std::move(*accepted), peer_));
    return true;
  }
  Output take_output() { return native_ != nullptr ? std::move(*output_) : readiness_.take_output(); }
  void cancel() {
    if (native_ == nullptr) return readiness_.cancel();
    native_->forget_waiter();
  }

 private:
  struct Attempt {
    StreamListener<Stream>* listener;
    SocketAddress* peer;
    Result<Stream> operator()() { return listener->try_accept(peer); }
  };

  StreamListener<Stream>* listener_;
  SocketAddress* peer_;
  IoOp<Result<Stream>, Attempt> readiness_;
  NativeListener* native_ = nullptr;
  std::optional<Result<Stream>> output_;
  bool chosen_ = false;  // the first poll chose native_ or readiness
};

// A listening socket whose accepted connections are `Stream`s.
template <typename Stream>
class StreamListener : public IoResource {
 public:
  StreamListener() = default;
  StreamListener(StreamListener&& other) noexcept = default;
  StreamListener& operator=(StreamListener&& other) noexcept;
  StreamListener(const StreamListener&) = delete;
  StreamListener& operator=(const StreamListener&) = delete;
  ~StreamListener() { (void)close(); }

  // socket(), SO_REUSEADDR for IP (a restarted daemon rebinds at once despite TIME_WAIT; Windows:
  // SO_EXCLUSIVEADDRUSE), bind(), listen(backlog), registered for reading. Errors: EADDRINUSE, EACCES, EINVAL for an
  // address of the wrong family. A Unix path must not exist yet (EADDRINUSE): remove a stale socket file first.
  static Result<StreamListener> bind(Handle handle, const SocketAddress& address, int backlog = 128);
  // Takes a socket that is already bound and listening, such as one systemd passed (systemd.h): checks
  // that it is a listening stream socket of this kind's family, makes it non-blocking and registers it.
  // On failure `fd` is closed. Errors: ENOTSOCK, EINVAL (not listening, not a stream, another family),
  // and those of PollFd::adopt.
  static Result<StreamListener> adopt(Handle handle, Fd fd);

  // accept4(2): the connection, registered; would_block when none waits; EMFILE/ENFILE when out of fds
  // (the connection stays queued in the kernel). `peer` receives the peer's address if non-null. Once the
  // listener accepts through the ring (accept), connections the ring took wait for accept, not for this.
  Result<Stream> try_accept(SocketAddress* peer = nullptr);
  // Awaitable: Result<Stream>, the same errors as try_accept but would_block. On a driver that runs
  // completion operations natively, through accepts on the ring (native_listener.h), else by readiness.
  AcceptOp<Stream> accept(SocketAddress* peer = nullptr) { return AcceptOp<Stream>(*this, peer); }

  // The bound address: with port 0, the port the kernel picked.
  Result<SocketAddress> local_address() const;

  // Deregisters and closes. With an accept on the ring in flight, cancels it; the fd closes once it ended.
  Error close();

 private:
  friend class AcceptOp<Stream>;
  explicit StreamListener(PollFd source) : IoResource(std::move(source)) {}
  // The listener's record for accepts on `executor`'s ring; null: readiness. Taking one drops
  // the listener's readiness registration, whose events would only cost.
  NativeListener* native_record(Executor& executor);
  // An accepted connection as a registered `Stream`, `peer` filled in if non-null.
  Result<Stream> adopt_accepted(Result<Fd> accepted, SocketAddress* peer);

  NativeListenerLease native_;  // destroyed before the fd closes: cancels first
};

using TcpListener = StreamListener<TcpStream>;
using UnixListener = StreamListener<UnixStream>;

extern template class StreamListener<TcpStream>;
extern template class StreamListener<UnixStream>;

}  // namespace emio
