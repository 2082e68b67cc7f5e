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
    {BackendChoice::automatic, "automatic"},
    {BackendChoice::epoll, "epoll"},
    {BackendChoice::uring, "uring"},
    {BackendChoice::uring_sqpoll, "uring-sqpoll"},
};

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
#if defined(EMIO_BACKEND_URING)
  (void)choice;
  return true;
#else
  return choice != BackendChoice::uring && choice != BackendChoice::uring_sqpoll;
#endif
}

}  // namespace emio
