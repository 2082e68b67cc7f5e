# Install rules: headers, static libraries, a CMake package (find_package(emio)) and emio.pc, so that
# Yocto, Buildroot or a plain CMake firmware build consumes emio without patches.
include(GNUInstallDirs)
include(CMakePackageConfigHelpers)

install(DIRECTORY alloc/include/ port/include/ driver/include/ runtime/include/ "${EMIO_GENERATED_INCLUDE_DIR}/"
        DESTINATION ${CMAKE_INSTALL_INCLUDEDIR})
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

set(EMIO_PKGCONFIG_LIBS "-lemio_runtime -lemio_driver -lemio_port")
# A static emio on io_uring needs liburing at link time (pkg-config --static) and its headers, which
# emio's public headers include.
set(EMIO_PKGCONFIG_REQUIRES_PRIVATE "")
if(EMIO_RESOLVED_BACKEND STREQUAL "uring")
  set(EMIO_PKGCONFIG_REQUIRES_PRIVATE "liburing")
elseif(EMIO_RESOLVED_BACKEND STREQUAL "kqueue" AND CMAKE_SYSTEM_NAME STREQUAL "Linux")
  set(EMIO_PKGCONFIG_REQUIRES_PRIVATE "libkqueue")  # <sys/event.h> and the library, on Linux only
endif()
# Relocatable: the prefix is found from the .pc file's own folder, so a staged sysroot install works as is.
file(RELATIVE_PATH EMIO_PKGCONFIG_TO_PREFIX "/prefix/${CMAKE_INSTALL_LIBDIR}/pkgconfig" "/prefix")
configure_file(cmake/emio.pc.in "${PROJECT_BINARY_DIR}/emio.pc" @ONLY)
install(FILES "${PROJECT_BINARY_DIR}/emio.pc" DESTINATION ${CMAKE_INSTALL_LIBDIR}/pkgconfig)

# The C API (emio.h and its library) and the example daemons.
install(FILES capi/include/emio.h DESTINATION ${CMAKE_INSTALL_INCLUDEDIR})
# find_package(emio) gives emio::emio_c; C builds without CMake link -lemio_c before emio.pc's libraries.
install(TARGETS emio_c EXPORT emioTargets ARCHIVE DESTINATION ${CMAKE_INSTALL_LIBDIR}
        INCLUDES DESTINATION ${CMAKE_INSTALL_INCLUDEDIR})
install(TARGETS emio-echo emio-bridge emio-c-echo RUNTIME DESTINATION ${CMAKE_INSTALL_BINDIR})
