# SPDX-License-Identifier: MIT
# Shared part of the Linux cross toolchain files; the including file sets CMAKE_SYSTEM_PROCESSOR,
# EMIO_CROSS_TRIPLET and EMIO_CROSS_QEMU. Two ways to find the target's headers and libraries:
#
# 1. A full target sysroot (Yocto SDK, Buildroot's output/host/<tuple>/sysroot, a board's rootfs):
#    -DEMIO_SYSROOT=/path (or the environment variable, or -DCMAKE_SYSROOT). It becomes CMAKE_SYSROOT,
#    pkg-config's sysroot and qemu's -L prefix. -DEMIO_CROSS_PREFIX=/path/to/<tuple>- picks that SDK's
#    compilers instead of Debian's.
# 2. Otherwise Debian's cross compilers with their own C library in /usr/<triplet>, and the target
#    libraries (liburing, CppUTest) unpacked by scripts/install-cross-deps.sh into EMIO_TARGET_LIBS
#    (default build/sysroots/<triplet>): a folder of Debian packages, not a sysroot of its own.
set(CMAKE_SYSTEM_NAME Linux)

# try_compile projects re-read this file without the cache: hand these variables down to them.
list(APPEND CMAKE_TRY_COMPILE_PLATFORM_VARIABLES EMIO_SYSROOT EMIO_CROSS_PREFIX EMIO_TARGET_LIBS)

if(NOT EMIO_SYSROOT)
  if(CMAKE_SYSROOT)
    set(EMIO_SYSROOT "${CMAKE_SYSROOT}")
  elseif(DEFINED ENV{EMIO_SYSROOT})
    set(EMIO_SYSROOT "$ENV{EMIO_SYSROOT}")
  endif()
endif()
if(NOT EMIO_CROSS_PREFIX)
  set(EMIO_CROSS_PREFIX "${EMIO_CROSS_TRIPLET}-")
endif()

set(CMAKE_C_COMPILER "${EMIO_CROSS_PREFIX}gcc")
set(CMAKE_CXX_COMPILER "${EMIO_CROSS_PREFIX}g++")

if(EMIO_SYSROOT)
  set(CMAKE_SYSROOT "${EMIO_SYSROOT}")
  set(emio_pkgconfig_root "${EMIO_SYSROOT}")
  set(emio_qemu_prefix "${EMIO_SYSROOT}")
else()
  if(NOT EMIO_TARGET_LIBS)
    if(DEFINED ENV{EMIO_CROSS_SYSROOTS})
      set(EMIO_TARGET_LIBS "$ENV{EMIO_CROSS_SYSROOTS}/${EMIO_CROSS_TRIPLET}")
    else()
      get_filename_component(EMIO_TARGET_LIBS "${CMAKE_CURRENT_LIST_DIR}/../build/sysroots/${EMIO_CROSS_TRIPLET}"
                             ABSOLUTE)
    endif()
  endif()
  set(emio_pkgconfig_root "${EMIO_TARGET_LIBS}")
  set(emio_qemu_prefix "/usr/${EMIO_CROSS_TRIPLET}")
endif()
set(CMAKE_FIND_ROOT_PATH "${emio_pkgconfig_root}")

# pkg-config must see only the target's .pc files (never the host's) and prefix their paths.
set(ENV{PKG_CONFIG_LIBDIR}
    "${emio_pkgconfig_root}/usr/lib/${EMIO_CROSS_TRIPLET}/pkgconfig:${emio_pkgconfig_root}/usr/lib/pkgconfig:${emio_pkgconfig_root}/usr/share/pkgconfig")
set(ENV{PKG_CONFIG_SYSROOT_DIR} "${emio_pkgconfig_root}")
unset(ENV{PKG_CONFIG_PATH})

set(CMAKE_FIND_ROOT_PATH_MODE_PROGRAM NEVER)
set(CMAKE_FIND_ROOT_PATH_MODE_LIBRARY ONLY)
set(CMAKE_FIND_ROOT_PATH_MODE_INCLUDE ONLY)
set(CMAKE_FIND_ROOT_PATH_MODE_PACKAGE ONLY)

# ctest runs target binaries under qemu-user; binfmt_misc is not relied on. -L makes the target's
# dynamic loader and libc visible to the emulated program.
find_program(EMIO_QEMU_PROGRAM NAMES "${EMIO_CROSS_QEMU}" "${EMIO_CROSS_QEMU}-static")
if(EMIO_QEMU_PROGRAM)
  set(CMAKE_CROSSCOMPILING_EMULATOR "${EMIO_QEMU_PROGRAM};-L;${emio_qemu_prefix}")
endif()
