// SPDX-License-Identifier: MIT
#include "common/accept_policy.h"

#include <cerrno>
#include <cinttypes>

#include "emio/port/clock.h"
#include "emio/port/log.h"

namespace emio_examples {
namespace {

bool is_out_of_resources(emio::Error error) {
  return error == emio::Error::from_errno(EMFILE) || error == emio::Error::from_errno(ENFILE) ||
         error == emio::Error::from_errno(ENOBUFS) || error == emio::Error::from_errno(ENOMEM);
}

}  // namespace

AcceptPolicy::Next AcceptPolicy::on_failure(emio::Error error) {
  if (error == emio::Error::shut_down || error == emio::Error::stale_token) return Next::stop;
  failures_ += 1;
  log_rate_limited(error);
  return is_out_of_resources(error) ? Next::back_off : Next::accept_again;
}

void AcceptPolicy::on_success() {
  if (unlogged_failures_ == 0) return;
  emio::log_message(emio::LogLevel::info, "accept (%s): accepting again, after %" PRIu64 " more failures",
                    listener_name_, unlogged_failures_);
  unlogged_failures_ = 0;
}

void AcceptPolicy::log_rate_limited(emio::Error error) {
  const uint64_t now_ms = emio::monotonic_now_ms();
  if (logged_once_ && now_ms - last_log_ms_ < log_interval_ms) {
    unlogged_failures_ += 1;
    return;
  }
  if (unlogged_failures_ > 0) {
    emio::log_message(emio::LogLevel::warning,
                      "accept (%s): %s (%s), and %" PRIu64 " more failures in the last %" PRIu64 " ms", listener_name_,
                      error.name(), error.description(), unlogged_failures_, now_ms - last_log_ms_);
  } else {
    emio::log_message(emio::LogLevel::warning, "accept (%s): %s (%s)", listener_name_, error.name(),
                      error.description());
  }
  logged_once_ = true;
  last_log_ms_ = now_ms;
  unlogged_failures_ = 0;
}

}  // namespace emio_examples
