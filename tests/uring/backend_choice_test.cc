// SPDX-License-Identifier: MIT
// The backend choice's names, as examples' --backend flags spell them.
#include "emio/config.h"
#include "emio/driver/backend_config.h"
#include "support/check.h"

using emio::BackendChoice;

TEST_GROUP(BackendChoice){};

TEST(BackendChoice, EveryChoiceParsesBackFromItsName) {
  for (BackendChoice choice : {BackendChoice::automatic, BackendChoice::epoll, BackendChoice::uring,
                               BackendChoice::uring_sqpoll, BackendChoice::kqueue, BackendChoice::iocp}) {
    BackendChoice parsed = BackendChoice::epoll == choice ? BackendChoice::uring : BackendChoice::epoll;
    CHECK_OK(emio::parse_backend_choice(emio::backend_choice_name(choice), parsed));
    CHECK(parsed == choice);
  }
}

TEST(BackendChoice, TheSpellingsAreTheDocumentedOnes) {
  STRCMP_EQUAL("uring-sqpoll", emio::backend_choice_name(BackendChoice::uring_sqpoll));
  STRCMP_EQUAL("automatic", emio::backend_choice_name(BackendChoice::automatic));
  STRCMP_EQUAL("kqueue", emio::backend_choice_name(BackendChoice::kqueue));
  STRCMP_EQUAL("iocp", emio::backend_choice_name(BackendChoice::iocp));
}

TEST(BackendChoice, UnknownNamesAreRefusedAndLeaveTheChoiceAlone) {
  BackendChoice choice = BackendChoice::epoll;
  CHECK_ERROR(emio::Error::backend_unavailable, emio::parse_backend_choice("wepoll", choice));
  CHECK_ERROR(emio::Error::backend_unavailable, emio::parse_backend_choice("IOCP", choice));
  CHECK_ERROR(emio::Error::backend_unavailable, emio::parse_backend_choice(nullptr, choice));
  CHECK(choice == BackendChoice::epoll);
}

TEST(BackendChoice, AutomaticIsCompiledInEverywhereAndEpollInEveryLinuxPollerBuild) {
  CHECK(emio::backend_choice_compiled_in(BackendChoice::automatic));
#if defined(EMIO_BACKEND_IOCP)
  // A Windows build has IOCP alone.
  CHECK(emio::backend_choice_compiled_in(BackendChoice::iocp));
  CHECK_FALSE(emio::backend_choice_compiled_in(BackendChoice::epoll));
  CHECK_FALSE(emio::backend_choice_compiled_in(BackendChoice::kqueue));
#elif defined(EMIO_BACKEND_KQUEUE)
  // A kqueue build has kqueue alone: asking for epoll is refused, not quietly run on kqueue.
  CHECK_FALSE(emio::backend_choice_compiled_in(BackendChoice::epoll));
  CHECK_FALSE(emio::backend_choice_compiled_in(BackendChoice::uring));
  CHECK(emio::backend_choice_compiled_in(BackendChoice::kqueue));
  CHECK_FALSE(emio::backend_choice_compiled_in(BackendChoice::iocp));
#else
  CHECK(emio::backend_choice_compiled_in(BackendChoice::epoll));
  CHECK_FALSE(emio::backend_choice_compiled_in(BackendChoice::kqueue));
  CHECK_FALSE(emio::backend_choice_compiled_in(BackendChoice::iocp));
#endif
}
