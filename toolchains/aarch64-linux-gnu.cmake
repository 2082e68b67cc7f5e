# SPDX-License-Identifier: MIT
# 64-bit ARM Linux boards (aarch64, Debian's g++-aarch64-linux-gnu). See docs/cross-compiling.md.
#   cmake --preset aarch64            or   cmake -DCMAKE_TOOLCHAIN_FILE=toolchains/aarch64-linux-gnu.cmake ...
set(CMAKE_SYSTEM_PROCESSOR aarch64)
set(EMIO_CROSS_TRIPLET aarch64-linux-gnu)
set(EMIO_CROSS_QEMU qemu-aarch64)
include("${CMAKE_CURRENT_LIST_DIR}/linux-cross.cmake")
