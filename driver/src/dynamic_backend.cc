// SPDX-License-Identifier: MIT
#include "emio/driver/dynamic_backend.h"

#include <cerrno>

namespace emio {
namespace {

bool means_fall_back(Error error) {
  return error == Error::from_errno(ENOSYS) || error == Error::from_errno(EPERM) ||
         error == Error::from_errno(EINVAL) || error == Error::backend_unavailable;
}

}  // namespace

Error DynamicBackend::open(const BackendOptions& options) {
  if (options.choice != BackendChoice::epoll) {
    // A wrong option is the caller's error on every kernel, never a reason to fall back: EINVAL from
    // set-up would otherwise read as "io_uring unavailable".
    if (Error invalid = UringBackend::validate(options); invalid.failed()) return invalid;
    const Error refused = uring_.open(options);
    if (refused.ok()) {
      kind_ = Kind::uring;
      return Error{};
    }
    if (!means_fall_back(refused)) return refused;  // ENOMEM, EMFILE: real errors, not "no io_uring"
    fallback_reason_ = refused;
  }
  kind_ = Kind::epoll;
  return epoll_.open(options);
}

}  // namespace emio
