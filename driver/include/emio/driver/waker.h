// SPDX-License-Identifier: MIT
// A waker is a function and its context: what to call when a waiting task may make progress.
// Two words, no allocation; a coroutine's waker is its handle's resume, a callback's is the callback.
#pragma once

namespace emio {

struct Waker {
  void (*function)(void* context) = nullptr;
  void* context = nullptr;

  bool empty() const { return function == nullptr; }
  void wake() const {
    if (function != nullptr) function(context);
  }
};

}  // namespace emio
