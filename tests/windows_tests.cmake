# SPDX-License-Identifier: MIT
# The tests of the Windows build (alloc/, port/ and the driver on IOCP), run under wine by ctest
# (CMAKE_CROSSCOMPILING_EMULATOR, scripts/wine-run.sh). The shared driver suite runs as on every backend;
# support/sockets_windows.cc gives it loopback sockets where POSIX has pipes. Included by
# tests/CMakeLists.txt.
add_executable(emio_tests
  support/main.cc
  support/allocation_counter.cc
  support/sockets_windows.cc
  alloc/slot_arena_test.cc
  port/error_test.cc
  port/clock_test.cc
  port/windows_error_test.cc
  iocp/afd_poll_test.cc
  driver/scheduled_io_test.cc
  driver/registration_test.cc
  driver/readiness_test.cc
  driver/stale_token_test.cc
  driver/wake_test.cc
  driver/shutdown_test.cc
  driver/no_heap_test.cc
  driver/waker_contract_test.cc
  driver/lifecycle_test.cc
  driver/stress_test.cc
  operations/operation_test.cc
  uring/backend_choice_test.cc)
target_include_directories(emio_tests PRIVATE ${CMAKE_CURRENT_SOURCE_DIR} ${PROJECT_SOURCE_DIR})
target_compile_definitions(emio_tests PRIVATE CPPUTEST_MEM_LEAK_DETECTION_DISABLED)
# The allocation counter (support/allocation_counter.cc): the CRT's allocator is a DLL import, so the
# link sends every call to it through the counting wrappers instead.
target_link_options(emio_tests PRIVATE -Wl,--wrap=malloc,--wrap=calloc,--wrap=realloc,--wrap=_aligned_malloc)
target_link_libraries(emio_tests PRIVATE emio_driver PkgConfig::CPPUTEST emio_build_flags)
foreach(group IN ITEMS SlotArena Error Clock WindowsError AfdPoll ScheduledIo Registration Readiness StaleToken Wake
                       Shutdown NoHeap WakerContract WakerContractDriver InitRollback FdReuse ConcurrencyStress Operations
                       BackendChoice)
  add_test(NAME ${group} COMMAND emio_tests -v -sg ${group})
  set_tests_properties(${group} PROPERTIES TIMEOUT 300)
endforeach()
