# SPDX-License-Identifier: MIT
# EMIO_BACKEND picks the backends compiled in. It ends up in emio/config.h, which the installed headers
# include, so a consumer always sees the backends the library was built with.
#   epoll  epoll only.
#   uring  io_uring (liburing) and epoll beside it: the driver picks one at init and falls back to epoll
#          when the kernel refuses io_uring.
#   kqueue kqueue alone: native on macOS and the BSDs; on Linux through libkqueue (for tests), found by
#          pkg-config under EMIO_LIBKQUEUE_PREFIX (scripts/build-libkqueue.sh builds it into build/libkqueue).
#   sim    tests only: epoll on real fds with a seeded schedule of event order, delays, spurious events
#          and short transfers between the kernel and the driver (driver/include/emio/driver/sim_backend.h).
#          Refused in release builds and without the tests; installs nothing.
#   auto   kqueue on macOS and the BSDs. On Linux: uring when liburing is found and the target is not
#          32-bit ARM, else epoll. libuv turned io_uring off on 32-bit ARM kernels after Raspberry Pi
#          regressions (libuv#4158): there it stays an explicit choice.
set(EMIO_BACKEND "auto" CACHE STRING "IO backend: auto, epoll, uring, kqueue, iocp or sim (tests only)")
set_property(CACHE EMIO_BACKEND PROPERTY STRINGS auto epoll uring kqueue iocp sim)

set(emio_known_backends auto epoll uring kqueue iocp sim)
if(NOT EMIO_BACKEND IN_LIST emio_known_backends)
  message(FATAL_ERROR "EMIO_BACKEND='${EMIO_BACKEND}' is not a backend. Choose one of: ${emio_known_backends}")
endif()

set(emio_kqueue_systems Darwin FreeBSD NetBSD OpenBSD DragonFly)
set(emio_backend "${EMIO_BACKEND}")
if(emio_backend STREQUAL "auto" AND CMAKE_SYSTEM_NAME IN_LIST emio_kqueue_systems)
  set(emio_backend kqueue)
endif()
if(emio_backend STREQUAL "auto" AND CMAKE_SYSTEM_NAME STREQUAL "Windows")
  set(emio_backend iocp)
endif()
if(emio_backend STREQUAL "auto")
  if(NOT CMAKE_SYSTEM_NAME STREQUAL "Linux")
    message(FATAL_ERROR "EMIO_BACKEND=auto has no backend for ${CMAKE_SYSTEM_NAME} in this tree; epoll and io_uring (Linux) and kqueue (macOS, BSD) are provided")
  endif()
  find_package(PkgConfig QUIET)
  if(PkgConfig_FOUND)
    pkg_check_modules(LIBURING QUIET IMPORTED_TARGET liburing)
  endif()
  set(emio_arm32 FALSE)
  if(CMAKE_SYSTEM_PROCESSOR MATCHES "^(arm|ARM)" AND CMAKE_SIZEOF_VOID_P EQUAL 4)
    set(emio_arm32 TRUE)
  endif()
  if(LIBURING_FOUND AND NOT emio_arm32)
    set(emio_backend uring)
  else()
    set(emio_backend epoll)
  endif()
endif()

if(emio_backend MATCHES "^(epoll|uring|sim)$" AND NOT CMAKE_SYSTEM_NAME STREQUAL "Linux")
  message(FATAL_ERROR "EMIO_BACKEND=${emio_backend} needs Linux; the target system is ${CMAKE_SYSTEM_NAME}")
endif()
if(emio_backend STREQUAL "iocp" AND NOT CMAKE_SYSTEM_NAME STREQUAL "Windows")
  message(FATAL_ERROR "EMIO_BACKEND=iocp needs Windows (toolchains/x86_64-w64-mingw32.cmake from Linux); "
                      "the target system is ${CMAKE_SYSTEM_NAME}")
endif()
if(emio_backend STREQUAL "iocp")
  # The Windows port: alloc/, port/, the driver, the runtime and emio-echo, with their tests under wine;
  # no pipes, serial ports, Unix sockets or systemd, no C API, no install (docs/developing-on-windows.md).
  message(STATUS "emio: EMIO_BACKEND=iocp builds alloc/, port/, driver/, runtime/ and emio-echo (no C API)")
endif()
if(emio_backend STREQUAL "sim")
  # A simulated kernel in a daemon would be a defect nobody sees: the backend exists for the test binaries.
  if(NOT EMIO_BUILD_TESTS OR CMAKE_BUILD_TYPE MATCHES "^(Release|MinSizeRel|RelWithDebInfo)$")
    message(FATAL_ERROR "EMIO_BACKEND=sim is for tests only: it needs EMIO_BUILD_TESTS=ON and a Debug build "
                        "(the sim preset); CMAKE_BUILD_TYPE is '${CMAKE_BUILD_TYPE}'")
  endif()
endif()
if(emio_backend STREQUAL "uring")
  # Debian's liburing-dev ships liburing.pc; set PKG_CONFIG_LIBDIR to the target's folder when crossing.
  find_package(PkgConfig REQUIRED)
  pkg_check_modules(LIBURING REQUIRED IMPORTED_TARGET liburing)
endif()

if(emio_backend STREQUAL "kqueue")
  # emio_kqueue: what the kqueue backend links. Native kqueue needs nothing; libkqueue is a static library.
  add_library(emio_kqueue INTERFACE)
  if(CMAKE_SYSTEM_NAME STREQUAL "Linux")
    set(EMIO_LIBKQUEUE_PREFIX "${PROJECT_SOURCE_DIR}/build/libkqueue" CACHE PATH
        "Where libkqueue is installed (scripts/build-libkqueue.sh puts it in build/libkqueue)")
    find_package(PkgConfig REQUIRED)
    set(ENV{PKG_CONFIG_PATH} "${EMIO_LIBKQUEUE_PREFIX}/lib/pkgconfig:$ENV{PKG_CONFIG_PATH}")
    pkg_check_modules(LIBKQUEUE IMPORTED_TARGET libkqueue)
    if(NOT LIBKQUEUE_FOUND)
      message(FATAL_ERROR "EMIO_BACKEND=kqueue on Linux needs libkqueue: run scripts/build-libkqueue.sh, or set "
                          "EMIO_LIBKQUEUE_PREFIX to where it is installed (looked in ${EMIO_LIBKQUEUE_PREFIX})")
    endif()
    # libkqueue.pc lists its threads and librt only as private libraries: a static link needs them.
    find_package(Threads REQUIRED)
    target_link_libraries(emio_kqueue INTERFACE PkgConfig::LIBKQUEUE Threads::Threads rt)
  else()
    include(CheckIncludeFileCXX)
    check_include_file_cxx(sys/event.h EMIO_HAVE_SYS_EVENT_H)
    if(NOT EMIO_HAVE_SYS_EVENT_H)
      message(FATAL_ERROR "EMIO_BACKEND=kqueue needs <sys/event.h>, which ${CMAKE_SYSTEM_NAME}'s headers lack")
    endif()
  endif()
endif()

string(TOUPPER "${emio_backend}" emio_backend_upper)
set(EMIO_BACKEND_MACRO "EMIO_BACKEND_${emio_backend_upper}")
set(EMIO_RESOLVED_BACKEND "${emio_backend}")
# The --backend names a program of this build can run (the tests run each): an io_uring build carries
# epoll as its fallback, and io_uring with SQPOLL; a kqueue build has kqueue alone; a sim build runs its
# simulated epoll for the name epoll.
if(emio_backend STREQUAL "uring")
  set(EMIO_BACKEND_NAMES epoll uring uring-sqpoll)
elseif(emio_backend STREQUAL "sim")
  set(EMIO_BACKEND_NAMES epoll)
else()
  set(EMIO_BACKEND_NAMES ${emio_backend})
endif()
message(STATUS "emio backend: ${emio_backend}")

set(EMIO_GENERATED_INCLUDE_DIR "${PROJECT_BINARY_DIR}/generated/include")
configure_file("${CMAKE_CURRENT_LIST_DIR}/config.h.in" "${EMIO_GENERATED_INCLUDE_DIR}/emio/config.h" @ONLY)
