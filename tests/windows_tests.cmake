# SPDX-License-Identifier: MIT
# The tests of the Windows build (alloc/, port/ and the driver on IOCP), run under wine by ctest
# (CMAKE_CROSSCOMPILING_EMULATOR, scripts/wine-run.sh): the shared suites (tests/CMakeLists.txt), with
# support/sockets_windows.cc's loopback sockets where POSIX has pipes, and Windows' own groups. Included by
# tests/CMakeLists.txt.
add_executable(emio_tests ${emio_shared_test_sources} support/sockets_windows.cc port/windows_error_test.cc
                          iocp/afd_poll_test.cc)
target_include_directories(emio_tests PRIVATE ${CMAKE_CURRENT_SOURCE_DIR} ${PROJECT_SOURCE_DIR})
target_compile_definitions(emio_tests PRIVATE CPPUTEST_MEM_LEAK_DETECTION_DISABLED)
# The allocation counter (support/allocation_counter.cc): the CRT's allocator is a DLL import, so the
# link sends every call to it through the counting wrappers instead.
target_link_options(emio_tests PRIVATE -Wl,--wrap=malloc,--wrap=calloc,--wrap=realloc,--wrap=_aligned_malloc)
target_link_libraries(emio_tests PRIVATE emio_driver PkgConfig::CPPUTEST emio_build_flags)
foreach(group IN LISTS emio_shared_test_groups ITEMS WindowsError AfdPoll)
  add_test(NAME ${group} COMMAND emio_tests -v -sg ${group})
  set_tests_properties(${group} PROPERTIES TIMEOUT 300)
endforeach()
