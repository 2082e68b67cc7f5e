# SPDX-License-Identifier: MIT
# The tests of a build with alloc/, port/ and the AFD poll but no driver yet: Windows, run under wine by ctest
# (CMAKE_CROSSCOMPILING_EMULATOR, scripts/wine-run.sh). Included by tests/CMakeLists.txt.
add_executable(emio_tests support/port_only_main.cc alloc/slot_arena_test.cc port/error_test.cc
                          port/clock_test.cc port/windows_error_test.cc iocp/afd_poll_test.cc)
target_include_directories(emio_tests PRIVATE ${CMAKE_CURRENT_SOURCE_DIR} ${PROJECT_SOURCE_DIR})
target_compile_definitions(emio_tests PRIVATE CPPUTEST_MEM_LEAK_DETECTION_DISABLED)
target_link_libraries(emio_tests PRIVATE emio_alloc emio_port emio_afd_poll PkgConfig::CPPUTEST emio_build_flags)
foreach(group IN ITEMS SlotArena Error Clock WindowsError AfdPoll)
  add_test(NAME ${group} COMMAND emio_tests -v -sg ${group})
  set_tests_properties(${group} PROPERTIES TIMEOUT 300)
endforeach()
