// SPDX-License-Identifier: MIT
#include "emio/driver/backend_config.h"

#include <cstring>

#include "emio/config.h"

namespace emio {
namespace {

struct ChoiceName {
  BackendChoice choice;
  const char* name;
};

constexpr ChoiceName choice_names[] = {
    {BackendChoice::automatic, "automatic"},       {BackendChoice::epoll, "epoll"},   {BackendChoice::uring, "uring"},
    {BackendChoice::uring_sqpoll, "uring-sqpoll"}, {BackendChoice::kqueue, "kqueue"}, {BackendChoice::iocp, "iocp"},
};

// An io_uring build carries epoll as its fallback; a kqueue build has kqueue alone; a sim build runs
// its simulated epoll when epoll is asked for.
#if defined(EMIO_BACKEND_URING) || defined(EMIO_BACKEND_EPOLL) || defined(EMIO_BACKEND_SIM)
constexpr bool epoll_compiled_in = true;
#else
constexpr bool epoll_compiled_in = false;
#endif
#if defined(EMIO_BACKEND_URING)
constexpr bool uring_compiled_in = true;
#else
constexpr bool uring_compiled_in = false;
#endif
#if defined(EMIO_BACKEND_KQUEUE)
constexpr bool kqueue_compiled_in = true;
#else
constexpr bool kqueue_compiled_in = false;
#endif
#if defined(EMIO_BACKEND_IOCP)
constexpr bool iocp_compiled_in = true;
#else
constexpr bool iocp_compiled_in = false;
#endif

}  // namespace

const char* backend_choice_name(BackendChoice choice) {
  for (const ChoiceName& entry : choice_names) {
    if (entry.choice == choice) return entry.name;
  }
  return "unknown";
}

Error parse_backend_choice(const char* text, BackendChoice& choice) {
  if (text == nullptr) return Error::backend_unavailable;
  for (const ChoiceName& entry : choice_names) {
    if (std::strcmp(entry.name, text) == 0) {
      choice = entry.choice;
      return Error{};
    }
  }
  return Error::backend_unavailable;
}

bool backend_choice_compiled_in(BackendChoice choice) {
  switch (choice) {
    case BackendChoice::automatic:
      return true;
    case BackendChoice::epoll:
      return epoll_compiled_in;
    case BackendChoice::uring:
    case BackendChoice::uring_sqpoll:
      return uring_compiled_in;
    case BackendChoice::kqueue:
      return kqueue_compiled_in;
    case BackendChoice::iocp:
      return iocp_compiled_in;
  }
  return false;
}

}  // namespace emio
