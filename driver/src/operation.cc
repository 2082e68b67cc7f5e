// SPDX-License-Identifier: MIT
#include "emio/driver/operation.h"

#include <cerrno>
#include <cstddef>
#include <cstdint>
#include <iterator>

namespace emio {
namespace {

void prepare(Operation& op, OpKind kind, OpSource* source, Waker on_complete) {
  op.kind = kind;
  op.source = source;
  op.on_complete = on_complete;
  op.result = 0;
}

// The direction each kind occupies on its source (see OpSource), by OpKind: a table lookup instead of a
// switch over the kinds, on each of the 4 calls a request makes (emio-echo on io_uring: 1,297 -> 1,274
// instructions per request).
enum class Occupies : uint8_t { nothing, reader, writer };
constexpr Occupies occupied_by_kind[] = {
    Occupies::reader,   // accept
    Occupies::writer,   // connect
    Occupies::reader,   // recv
    Occupies::writer,   // send
    Occupies::reader,   // read
    Occupies::writer,   // write
    Occupies::nothing,  // close
    Occupies::nothing,  // timeout
    Occupies::nothing,  // cancel
    Occupies::reader,   // accept_multishot
    Occupies::reader,   // recv_multishot
    Occupies::reader,   // recv_leased
    Occupies::reader,   // read_leased
};
static_assert(std::size(occupied_by_kind) == static_cast<size_t>(OpKind::read_leased) + 1,
              "a direction for every OpKind");

Operation** slot_of(Operation& op) {
  const Occupies occupies = occupied_by_kind[static_cast<size_t>(op.kind)];
  if (occupies == Occupies::nothing) return nullptr;
  return occupies == Occupies::reader ? &op.source->reader : &op.source->writer;
}

}  // namespace

void prepare_accept(Operation& op, OpSource& listener, sockaddr* peer, socklen_t peer_capacity, Waker on_complete) {
  prepare(op, OpKind::accept, &listener, on_complete);
  op.address = peer;
  op.address_length = peer == nullptr ? 0 : peer_capacity;
}

void prepare_connect(Operation& op, OpSource& socket, const sockaddr* peer, socklen_t peer_length, Waker on_complete) {
  prepare(op, OpKind::connect, &socket, on_complete);
  // Never written through: connect only reads the address.
  op.address = const_cast<sockaddr*>(peer);  // NOLINT(cppcoreguidelines-pro-type-const-cast)
  op.address_length = peer_length;
}

void prepare_recv(Operation& op, OpSource& socket, std::span<std::byte> buffer, Waker on_complete) {
  prepare(op, OpKind::recv, &socket, on_complete);
  op.buffer = buffer.data();
  op.length = static_cast<uint32_t>(buffer.size());
}

void prepare_send(Operation& op, OpSource& socket, std::span<const std::byte> data, Waker on_complete) {
  prepare(op, OpKind::send, &socket, on_complete);
  op.buffer = const_cast<std::byte*>(data.data());  // NOLINT(cppcoreguidelines-pro-type-const-cast): only read
  op.length = static_cast<uint32_t>(data.size());
}

void prepare_read(Operation& op, OpSource& file, std::span<std::byte> buffer, Waker on_complete) {
  prepare_recv(op, file, buffer, on_complete);
  op.kind = OpKind::read;
}

void prepare_write(Operation& op, OpSource& file, std::span<const std::byte> data, Waker on_complete) {
  prepare_send(op, file, data, on_complete);
  op.kind = OpKind::write;
}

void prepare_close(Operation& op, OpSource& source, Waker on_complete) {
  prepare(op, OpKind::close, &source, on_complete);
}

void prepare_timeout(Operation& op, uint64_t timeout_ns, Waker on_complete) {
  prepare(op, OpKind::timeout, nullptr, on_complete);
  op.timeout_ns = timeout_ns;
}

void prepare_cancel(Operation& op, Operation& target, Waker on_complete) {
  prepare(op, OpKind::cancel, nullptr, on_complete);
  op.target = &target;
}

void prepare_accept_multishot(Operation& op, OpSource& listener, Waker on_complete) {
  prepare(op, OpKind::accept_multishot, &listener, on_complete);
  op.address = nullptr;
  op.address_length = 0;
}

void prepare_recv_multishot(Operation& op, OpSource& socket, Waker on_complete) {
  prepare(op, OpKind::recv_multishot, &socket, on_complete);
  op.buffer = nullptr;
  op.length = 0;
}

void prepare_recv_leased(Operation& op, OpSource& socket, Waker on_complete) {
  prepare(op, OpKind::recv_leased, &socket, on_complete);
  op.buffer = nullptr;
  op.length = 0;
}

void prepare_read_leased(Operation& op, OpSource& file, Waker on_complete) {
  prepare_recv_leased(op, file, on_complete);
  op.kind = OpKind::read_leased;
}

Error OperationLedger::reserve(uint32_t count) {
  if (count > capacity_ - reserved_) return Error::from_errno(EINVAL);
  reserved_ += count;
  return Error{};
}

Error OperationLedger::start(Operation& op, bool reserved) {
  if (op.in_flight()) return Error::from_errno(EALREADY);
  if (reserved ? reserved_count_ >= reserved_ : full()) return Error::from_errno(EBUSY);
  if (op.kind == OpKind::close && (op.source->reader != nullptr || op.source->writer != nullptr)) {
    return Error::from_errno(EBUSY);
  }
  if (Operation** slot = slot_of(op); slot != nullptr) {
    if (*slot != nullptr) return Error::from_errno(EBUSY);
    *slot = &op;
  }
  op.result = 0;
  op.cancel_requested = false;
  op.reserved = reserved;
  reserved_count_ += reserved ? 1 : 0;
  op.state = OpState::queued;
  op.previous = nullptr;
  op.next = head_;
  if (head_ != nullptr) head_->previous = &op;
  head_ = &op;
  count_ += 1;
  return Error{};
}

void OperationLedger::unlink(Operation& op) {
  if (op.previous != nullptr) op.previous->next = op.next;
  if (op.next != nullptr) op.next->previous = op.previous;
  if (head_ == &op) head_ = op.next;
  op.next = op.previous = nullptr;
  count_ -= 1;
  reserved_count_ -= op.reserved ? 1 : 0;
  op.reserved = false;
  if (Operation** slot = slot_of(op); slot != nullptr) *slot = nullptr;
  op.state = OpState::idle;
}

void OperationLedger::abandon(Operation& op) { unlink(op); }

void OperationLedger::deliver(Operation& op, int32_t result) {
  op.result = result;
  op.more = true;
  op.on_complete.wake();
}

void OperationLedger::finish(Operation& op, int32_t result) {
  unlink(op);
  op.result = result;
  op.more = false;
  // Last: the callback may submit the very same record again.
  op.on_complete.wake();
}

}  // namespace emio
