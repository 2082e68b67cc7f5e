# SPDX-License-Identifier: MIT
# Install rules: headers, the libraries (static, or shared with BUILD_SHARED_LIBS), a CMake package
# (find_package(emio): emio::emio and emio::emio_c) and emio.pc / emio-c.pc, so that
# Yocto, Buildroot or a plain CMake firmware build consumes emio without patches.
if(EMIO_RESOLVED_BACKEND STREQUAL "sim")
  return()  # the simulated kernel is for the test binaries: nothing of a sim build is installed
endif()
include(GNUInstallDirs)
include(CMakePackageConfigHelpers)

install(DIRECTORY alloc/include/ port/include/ driver/include/ runtime/include/ "${EMIO_GENERATED_INCLUDE_DIR}/"
        DESTINATION ${CMAKE_INSTALL_INCLUDEDIR} PATTERN sim_backend.h EXCLUDE)
install(TARGETS emio emio_alloc emio_port emio_driver emio_runtime EXPORT emioTargets
        ARCHIVE DESTINATION ${CMAKE_INSTALL_LIBDIR}
        LIBRARY DESTINATION ${CMAKE_INSTALL_LIBDIR}
        INCLUDES DESTINATION ${CMAKE_INSTALL_INCLUDEDIR})
if(TARGET emio_kqueue)
  install(TARGETS emio_kqueue EXPORT emioTargets)  # what the kqueue backend links (libkqueue on Linux)
endif()
install(EXPORT emioTargets NAMESPACE emio:: DESTINATION ${CMAKE_INSTALL_LIBDIR}/cmake/emio)

configure_package_config_file(cmake/emioConfig.cmake.in "${PROJECT_BINARY_DIR}/emioConfig.cmake"
                              INSTALL_DESTINATION ${CMAKE_INSTALL_LIBDIR}/cmake/emio)
write_basic_package_version_file("${PROJECT_BINARY_DIR}/emioConfigVersion.cmake" COMPATIBILITY SameMinorVersion)
install(FILES "${PROJECT_BINARY_DIR}/emioConfig.cmake" "${PROJECT_BINARY_DIR}/emioConfigVersion.cmake"
        DESTINATION ${CMAKE_INSTALL_LIBDIR}/cmake/emio)

# pkg-config: emio.pc for C++ (its Cflags carry -std=c++20 and the no-exceptions/no-RTTI flags), emio-c.pc
# for C (no C++ flags; it links the C++ standard library the runtime needs). Both work with a plain
# `pkg-config --cflags --libs`: every library a static link needs is in Libs, liburing included on an
# io_uring build (both files require liburing, whose headers emio's public headers include; libkqueue on a
# kqueue build on Linux).
set(EMIO_PKGCONFIG_REQUIRES "")
if(EMIO_RESOLVED_BACKEND STREQUAL "uring")
  set(EMIO_PKGCONFIG_REQUIRES "liburing")
elseif(EMIO_RESOLVED_BACKEND STREQUAL "kqueue" AND CMAKE_SYSTEM_NAME STREQUAL "Linux")
  set(EMIO_PKGCONFIG_REQUIRES "libkqueue")  # <sys/event.h> and the library, on Linux only
endif()
# Relocatable: the prefix is found from the .pc file's own folder, so a staged sysroot install works as is.
file(RELATIVE_PATH EMIO_PKGCONFIG_TO_PREFIX "/prefix/${CMAKE_INSTALL_LIBDIR}/pkgconfig" "/prefix")
foreach(emio_pc emio emio-c)
  configure_file(cmake/${emio_pc}.pc.in "${PROJECT_BINARY_DIR}/${emio_pc}.pc" @ONLY)
  install(FILES "${PROJECT_BINARY_DIR}/${emio_pc}.pc" DESTINATION ${CMAKE_INSTALL_LIBDIR}/pkgconfig)
endforeach()

# The C API (emio.h and its library) and the example daemons.
install(FILES capi/include/emio.h DESTINATION ${CMAKE_INSTALL_INCLUDEDIR})
# find_package(emio) gives emio::emio_c; C builds without CMake use emio-c.pc.
install(TARGETS emio_c EXPORT emioTargets ARCHIVE DESTINATION ${CMAKE_INSTALL_LIBDIR}
        LIBRARY DESTINATION ${CMAKE_INSTALL_LIBDIR} INCLUDES DESTINATION ${CMAKE_INSTALL_INCLUDEDIR})
install(TARGETS emio-echo emio-bridge emio-c-echo RUNTIME DESTINATION ${CMAKE_INSTALL_BINDIR})
