// SPDX-License-Identifier: MIT
#include "objects.h"

namespace emio_capi {

namespace {
// emio's own codes are -1, -2, ...: shifted below every errno value so that C callers tell them apart.
constexpr int own_code_base = -10000;
}  // namespace

int to_c(emio::Error error) {
  if (error.ok()) return EMIO_OK;
  return error.is_os_error() ? -error.value() : own_code_base + error.value();
}

}  // namespace emio_capi

static_assert(EMIO_EREGISTRATIONS_FULL == -10000 + emio::Error::registrations_full);
static_assert(EMIO_ESTALE == -10000 + emio::Error::stale_token);
static_assert(EMIO_ESHUTDOWN == -10000 + emio::Error::shut_down);
static_assert(EMIO_EBACKEND == -10000 + emio::Error::backend_unavailable);
static_assert(EMIO_ENOSTORAGE == -10000 + emio::Error::no_storage);

namespace {

// The emio::Error a C error code stands for.
emio::Error from_c(int error) {
  if (error == EMIO_OK) return emio::Error{};
  if (error <= emio_capi::own_code_base) {
    return emio::Error(static_cast<emio::Error::Code>(error - emio_capi::own_code_base));
  }
  return emio::Error::from_errno(-error);
}

}  // namespace

extern "C" const char* emio_strerror(int error) { return from_c(error).name(); }

extern "C" const char* emio_describe(int error) { return from_c(error).description(); }
