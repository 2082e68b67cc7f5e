# SPDX-License-Identifier: MIT
# Windows x86_64 (desktop testing of the IOCP backend), from Linux: Debian's mingw-w64 with the posix
# thread model (the default win32 model has no std::thread), everything linked statically so that the
# .exe files run under wine with no DLL beside them. scripts/install-windows-deps.sh installs the tools.
#   cmake --preset iocp-wine        or   cmake -DCMAKE_TOOLCHAIN_FILE=toolchains/x86_64-w64-mingw32.cmake ...
set(CMAKE_SYSTEM_NAME Windows)
set(CMAKE_SYSTEM_PROCESSOR x86_64)
set(CMAKE_C_COMPILER x86_64-w64-mingw32-gcc-posix)
set(CMAKE_CXX_COMPILER x86_64-w64-mingw32-g++-posix)
set(CMAKE_RC_COMPILER x86_64-w64-mingw32-windres)
# The mingw headers and libraries, and the Windows builds of test dependencies (build/tools/windows: CppUTest).
get_filename_component(emio_windows_dependencies "${CMAKE_CURRENT_LIST_DIR}/../build/tools/windows" ABSOLUTE)
set(CMAKE_FIND_ROOT_PATH /usr/x86_64-w64-mingw32 "${emio_windows_dependencies}")
set(CMAKE_FIND_ROOT_PATH_MODE_PROGRAM NEVER)
set(CMAKE_FIND_ROOT_PATH_MODE_LIBRARY ONLY)
set(CMAKE_FIND_ROOT_PATH_MODE_INCLUDE ONLY)
set(CMAKE_FIND_ROOT_PATH_MODE_PACKAGE ONLY)
set(CMAKE_EXE_LINKER_FLAGS_INIT "-static")
# ctest runs each test binary under wine (scripts/wine-run.sh: one WINEPREFIX per build, made once).
set(CMAKE_CROSSCOMPILING_EMULATOR "${CMAKE_CURRENT_LIST_DIR}/../scripts/wine-run.sh")
