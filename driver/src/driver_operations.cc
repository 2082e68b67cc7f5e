// SPDX-License-Identifier: MIT
// The Driver's side of completion operations: the ledger every engine shares, and the choice of engine
// (native on io_uring; on IOCP native for the socket and handle kinds, readiness for the others; readiness
// on epoll and kqueue).
#include <cerrno>

#include "emio/driver/driver.h"

namespace emio {

Error Driver::init_operations(const DriverConfig& config) {
  if (config.operation_capacity == 0) return Error::no_storage;
  operations_.set_capacity(config.operation_capacity);
  const uint32_t receive_buffer_size = runs_readiness_operations() ? config.receive_buffers.size : 0;
  if (Error error = readiness_operations_.init(&operations_, handle(), receive_buffer_size); error.failed()) {
    return error;
  }
#if defined(EMIO_BACKEND_URING)
  if (runs_native_operations()) {
    // Every operation in flight may post a completion at once: the CQ must hold them all.
    if (config.operation_capacity > backend_.uring().completion_queue_entries()) return Error::from_errno(EINVAL);
    backend_.uring().use_ledger(&operations_);
  }
#elif defined(EMIO_BACKEND_IOCP)
  if (Error error = backend_.open_operations(&operations_, config.operation_capacity); error.failed()) return error;
#endif
  return Error{};
}

Error Driver::attach(OpSource& source, int fd) {
  source = OpSource{};
  source.fd = fd;
#if defined(EMIO_BACKEND_URING)
  if (runs_native_operations() && backend_.uring().has_file_table()) {
    Result<int32_t> slot = backend_.uring().register_file(fd);
    if (!slot.ok()) return slot.error();
    source.fixed_file = slot.value();
  }
#elif defined(EMIO_BACKEND_IOCP)
  return backend_.associate(fd);
#endif
  return Error{};
}

Error Driver::detach(OpSource& source) {
  if (source.reader != nullptr || source.writer != nullptr) return Error::from_errno(EBUSY);
#if defined(EMIO_BACKEND_URING)
  if (source.fixed_file >= 0) backend_.uring().unregister_file(source.fixed_file);
#endif
  Error removed{};
  if (source.registration.io != nullptr) removed = handle().deregister(source.registration);
  source = OpSource{};
  return removed;
}

Error Driver::submit(Operation& op) { return start_operation(op, false); }

Error Driver::submit_reserved(Operation& op) { return start_operation(op, true); }

Error Driver::start_operation(Operation& op, bool reserved) {
  if (shut_down_.load(std::memory_order_acquire) || !initialised_) return Error::shut_down;
  if (is_leased(op.kind) && !takes_leased_receives()) return Error::from_errno(ENOTSUP);
  if (Error refused = operations_.start(op, reserved); refused.failed()) return refused;
#if defined(EMIO_BACKEND_URING)
  if (runs_native_operations()) {
    const Error refused = backend_.uring().submit(op);
    if (refused.failed()) operations_.abandon(op);
    return refused;
  }
#elif defined(EMIO_BACKEND_IOCP)
  if (IocpBackend::runs_natively(op)) {
    const Error refused = backend_.submit(op);
    if (refused.failed()) operations_.abandon(op);
    return refused;
  }
#endif
  readiness_operations_.submit(op);
  return Error{};
}

bool Driver::takes_leased_receives() const {
#if defined(EMIO_BACKEND_URING)
  return runs_native_operations() && backend_.uring().has_receive_buffers();
#else
  return false;
#endif
}

void Driver::release_buffer(Operation& op) {
#if defined(EMIO_BACKEND_URING)
  if (runs_native_operations()) backend_.uring().release_buffer(op);
#endif
  op.buffer = nullptr;
}

void Driver::cancel_operations() {
#if defined(EMIO_BACKEND_URING)
  if (runs_native_operations()) return backend_.uring().cancel_operations();
#elif defined(EMIO_BACKEND_IOCP)
  backend_.cancel_operations();  // first: the readiness engine's cancel_all leaves native records alone
#endif
  readiness_operations_.cancel_all();
}

}  // namespace emio
