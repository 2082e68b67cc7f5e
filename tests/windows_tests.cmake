# SPDX-License-Identifier: MIT
# The tests of the Windows build (alloc/, port/, the driver on IOCP and the runtime), run under wine by ctest
# (CMAKE_CROSSCOMPILING_EMULATOR, scripts/wine-run.sh): the shared suites (tests/CMakeLists.txt), with
# support/sockets_windows.cc's loopback sockets where POSIX has pipes, and Windows' own groups. Included by
# tests/CMakeLists.txt.
add_executable(emio_tests ${emio_shared_test_sources} support/sockets_windows.cc port/windows_error_test.cc
                          iocp/afd_poll_test.cc iocp/iocp_operations_test.cc)
target_include_directories(emio_tests PRIVATE ${CMAKE_CURRENT_SOURCE_DIR} ${PROJECT_SOURCE_DIR})
target_compile_definitions(emio_tests PRIVATE CPPUTEST_MEM_LEAK_DETECTION_DISABLED)
# The allocation counter (support/allocation_counter.cc): the CRT's allocator is a DLL import, so the
# link sends every call to it through the counting wrappers instead.
set(emio_windows_allocation_wrappers -Wl,--wrap=malloc,--wrap=calloc,--wrap=realloc,--wrap=_aligned_malloc)
target_link_options(emio_tests PRIVATE ${emio_windows_allocation_wrappers})
target_link_libraries(emio_tests PRIVATE emio_driver PkgConfig::CPPUTEST emio_build_flags)
# Parsed once per binary (tests/CMakeLists.txt).
target_precompile_headers(emio_tests PRIVATE support/driver_fixture.h support/sockets.h)
foreach(group IN LISTS emio_shared_test_groups ITEMS WindowsError AfdPoll IocpOperations)
  add_test(NAME ${group} COMMAND emio_tests -v -sg ${group})
  set_tests_properties(${group} PROPERTIES TIMEOUT 300)
endforeach()

# The runtime's shared suite (tests/runtime), on IOCP, but for the groups of what Windows lacks:
set(emio_runtime_groups_left_out
    Pipe        # no pipes to poll: AFD polls sockets only (the driver suite's pipes are loopback TCP pairs)
    PipeOnTheRing  # the same pipes, on completion operations
    Serial      # no serial ports: COM handles are not written (docs/developing-on-windows.md)
    SerialOnTheRing  # the same ports, on completion operations
    UnixSocket  # no Unix-domain sockets: Winsock has no socketpair, and wine 8 no AF_UNIX
    Systemd     # no systemd on Windows: runtime/src/systemd.cc is not built there
    Signals     # POSIX signals (raise, sigprocmask): the console's Ctrl-C and Ctrl-Break are ConsoleSignals
    FdLimit     # RLIMIT_NOFILE and fork: Windows has neither (a process's handles have no such limit)
    NativeStream   # built on Unix socketpairs and fork (the pool's IOCP operations are driven by no Windows test yet)
    NativeStreamProbes # pipes (F_SETPIPE_SZ) and orders of io_uring completions
    NativeStreamSocketProbes # Unix socketpairs, as NativeStream
    NativeListener # io_uring's accepts on the ring, on POSIX sockets (sys/socket.h); IOCP has no native listener
    PollFd         # pipes, timerfd, fcntl and regular-file paths: POSIX fds, where Windows polls sockets only
    StreamHelpers) # LineReader and the write helpers over UnixStream pairs (socketpair), which Winsock lacks
# Windows' own: the console control events as the signal source.
set(emio_runtime_windows_test_sources console_signals_test.cc)
set(emio_runtime_windows_test_groups ConsoleSignals)
add_subdirectory(runtime)

# End to end: emio-echo.exe under wine serves a native Linux client over loopback, and a Ctrl-C (wine turns
# a SIGINT into one) stops it with exit 0.
find_package(Python3 REQUIRED COMPONENTS Interpreter)
add_test(NAME e2e.echo.windows.serves_a_linux_client_and_stops_on_ctrl_c
         COMMAND Python3::Interpreter ${CMAKE_CURRENT_SOURCE_DIR}/e2e/echo_windows_test.py
                 ${PROJECT_SOURCE_DIR}/scripts/wine-run.sh $<TARGET_FILE:emio-echo>)
set_tests_properties(e2e.echo.windows.serves_a_linux_client_and_stops_on_ctrl_c PROPERTIES TIMEOUT 300)
