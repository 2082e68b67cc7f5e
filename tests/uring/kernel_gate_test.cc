// SPDX-License-Identifier: MIT
// What io_uring needs of the kernel, and what emio does without it, shown on this kernel through
// UringOptions::emulate_kernel_5_10 (single-shot polls, no sparse file table, no task-work flags):
// automatic readiness runs on epoll and says why, an explicit io_uring choice runs single-shot polls,
// and a missing sparse file table keeps io_uring with plain fds.
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstring>
#include <string_view>

#include "emio/driver/uring_backend.h"
#include "emio/port/log.h"
#include "operations/operation_support.h"
#include "support/check.h"
#include "support/sockets.h"
#include "uring/uring_support.h"

#if defined(EMIO_BACKEND_URING)

namespace {

int log_lines = 0;
char last_log[256];
void keep_log(emio::LogLevel, const char* message, void*) {
  log_lines += 1;
  std::strncpy(last_log, message, sizeof last_log - 1);
}

emio::DriverConfig kernel_5_10(emio::BackendChoice choice) {
  emio::DriverConfig config = emio_test::uring_config(choice, 8, 8);
  config.uring.emulate_kernel_5_10 = true;
  config.operation_capacity = 8;
  return config;
}

}  // namespace

TEST_GROUP(UringKernelGates){void setup() override{SKIP_WITHOUT_URING();
}
}
;

TEST(UringKernelGates, AutomaticReadinessRunsOnEpollWherePollsAreSingleShotAndSaysWhy) {
  CHECK_EQUAL(0, emio_test::in_child([] {
                emio::set_log_hook(keep_log, nullptr);
                emio::Driver driver;
                if (driver.init(kernel_5_10(emio::BackendChoice::automatic)).failed()) return 1;
                if (std::string_view(driver.backend_name()) != "epoll") return 2;
                if (driver.fallback_reason() != emio::Error::backend_unavailable) return 3;
                if (log_lines != 1 || std::strstr(last_log, "single-shot") == nullptr) return 4;
                return 0;
              }));
}

TEST(UringKernelGates, AnExplicitIoUringChoiceRunsSingleShotPollsThere) {
  emio::Driver driver;
  CHECK_OK(driver.init(kernel_5_10(emio::BackendChoice::uring)));
  STRCMP_EQUAL("uring", driver.backend_name());
  CHECK_OK(driver.fallback_reason());
}

TEST(UringKernelGates, WithoutASparseFileTableOperationsRunOnPlainFdsAndStayOnIoUring) {
  CHECK_EQUAL(0, emio_test::in_child([] {
                emio::set_log_hook(keep_log, nullptr);
                emio::Driver driver;
                emio::DriverConfig config = kernel_5_10(emio::BackendChoice::uring);
                config.uring.registered_file_capacity = 4;
                if (driver.init(config).failed()) return 1;
                if (std::string_view(driver.backend_name()) != "uring") return 2;
                if (log_lines != 1 || std::strstr(last_log, "sparse file table") == nullptr) return 3;
                auto pair = emio_test::make_socketpair(SOCK_STREAM);
                emio::OpSource source;
                if (driver.attach(source, pair.first.get()).failed() || source.fixed_file != -1) return 4;
                char buffer[8] = {};
                emio::Operation recv;
                emio_test::CompletionLog done{&recv};
                emio::prepare_recv(recv, source, emio_test::bytes_of(buffer, sizeof buffer), done.waker());
                if (driver.submit(recv).failed() || ::write(pair.second.get(), "fd", 2) != 2) return 5;
                for (int turn = 0; turn < 200 && done.calls == 0; ++turn) (void)driver.turn(10);
                if (done.calls != 1 || recv.result != 2 || std::strcmp(buffer, "fd") != 0) return 6;
                return driver.detach(source).ok() ? 0 : 7;
              }));
}

TEST(UringKernelGates, ThisKernelOffersWhatCompletionOperationsNeed) {
  // The probe's verdict on what operations use (its opcodes and IORING_FEAT_FAST_POLL, 5.7): without
  // it the driver runs epoll, since it runs operations natively whenever it runs io_uring.
  CHECK(emio::UringBackend::features().completion_operations);
}

#endif
