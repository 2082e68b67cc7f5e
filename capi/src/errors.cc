// SPDX-License-Identifier: MIT
#include <cstring>

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

extern "C" const char* emio_strerror(int error) {
  if (error == EMIO_OK) return "ok";
  if (error <= emio_capi::own_code_base) {
    return emio::Error(static_cast<emio::Error::Code>(error - emio_capi::own_code_base)).name();
  }
  const emio::Error os_error = emio::Error::from_errno(-error);
  return os_error.has_name() ? os_error.name() : std::strerror(-error);
}
