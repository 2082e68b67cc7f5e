# SPDX-License-Identifier: MIT
# 32-bit ARM Linux boards (ARMv7 hard-float, Debian's g++-arm-linux-gnueabihf). See docs/cross-compiling.md.
#   cmake --preset armhf              or   cmake -DCMAKE_TOOLCHAIN_FILE=toolchains/arm-linux-gnueabihf.cmake ...
# CMAKE_SYSTEM_PROCESSOR "arm" is what cmake/backend.cmake reads to keep epoll the default on 32-bit ARM.
set(CMAKE_SYSTEM_PROCESSOR arm)
set(EMIO_CROSS_TRIPLET arm-linux-gnueabihf)
set(EMIO_CROSS_QEMU qemu-arm)
include("${CMAKE_CURRENT_LIST_DIR}/linux-cross.cmake")
