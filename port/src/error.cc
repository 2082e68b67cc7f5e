#include "emio/port/error.h"

#include <cerrno>

namespace emio {

Error Error::last_os_error() { return from_errno(errno); }

namespace {

const char* own_code_name(int32_t value) {
  switch (value) {
    case Error::registrations_full:
      return "emio: registrations full";
    case Error::stale_token:
      return "emio: stale token";
    case Error::shut_down:
      return "emio: driver shut down";
    case Error::backend_unavailable:
      return "emio: backend unavailable";
    case Error::no_storage:
      return "emio: no storage";
    default:
      return "emio: unknown error";
  }
}

// The errno values an IO daemon meets; the rest print as "errno".
const char* errno_name(int32_t value) {
  switch (value) {
    case EPERM:
      return "EPERM";
    case ENOENT:
      return "ENOENT";
    case EINTR:
      return "EINTR";
    case EIO:
      return "EIO";
    case ENXIO:
      return "ENXIO";
    case EBADF:
      return "EBADF";
    case EAGAIN:
      return "EAGAIN";
    case ENOMEM:
      return "ENOMEM";
    case EACCES:
      return "EACCES";
    case EFAULT:
      return "EFAULT";
    case EBUSY:
      return "EBUSY";
    case EEXIST:
      return "EEXIST";
    case ENODEV:
      return "ENODEV";
    case EINVAL:
      return "EINVAL";
    case ENFILE:
      return "ENFILE";
    case EMFILE:
      return "EMFILE";
    case ENOTTY:
      return "ENOTTY";
    case ENOSPC:
      return "ENOSPC";
    case EPIPE:
      return "EPIPE";
    case ERANGE:
      return "ERANGE";
    case ENOSYS:
      return "ENOSYS";
    case ENOTSOCK:
      return "ENOTSOCK";
    case EMSGSIZE:
      return "EMSGSIZE";
    case EOPNOTSUPP:
      return "EOPNOTSUPP";
    case EADDRINUSE:
      return "EADDRINUSE";
    case EADDRNOTAVAIL:
      return "EADDRNOTAVAIL";
    case ENETDOWN:
      return "ENETDOWN";
    case ENETUNREACH:
      return "ENETUNREACH";
    case ECONNABORTED:
      return "ECONNABORTED";
    case ECONNRESET:
      return "ECONNRESET";
    case ENOBUFS:
      return "ENOBUFS";
    case EISCONN:
      return "EISCONN";
    case ENOTCONN:
      return "ENOTCONN";
    case ETIMEDOUT:
      return "ETIMEDOUT";
    case ECONNREFUSED:
      return "ECONNREFUSED";
    case EHOSTUNREACH:
      return "EHOSTUNREACH";
    case EALREADY:
      return "EALREADY";
    case EINPROGRESS:
      return "EINPROGRESS";
    case ECANCELED:
      return "ECANCELED";
    default:
      return "errno";
  }
}

}  // namespace

const char* Error::name() const {
  if (value_ == 0) return "ok";
  return value_ > 0 ? errno_name(value_) : own_code_name(value_);
}

}  // namespace emio
