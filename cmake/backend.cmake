# EMIO_BACKEND picks the one backend compiled in. It ends up in emio/config.h, which the installed
# headers include, so a consumer always sees the backend the library was built with.
set(EMIO_BACKEND "auto" CACHE STRING "IO backend: auto, epoll, uring, kqueue or iocp")
set_property(CACHE EMIO_BACKEND PROPERTY STRINGS auto epoll uring kqueue iocp)

set(emio_known_backends auto epoll uring kqueue iocp)
if(NOT EMIO_BACKEND IN_LIST emio_known_backends)
  message(FATAL_ERROR "EMIO_BACKEND='${EMIO_BACKEND}' is not a backend. Choose one of: ${emio_known_backends}")
endif()

set(emio_backend "${EMIO_BACKEND}")
if(emio_backend STREQUAL "auto")
  if(CMAKE_SYSTEM_NAME STREQUAL "Linux")
    set(emio_backend epoll)
  else()
    message(FATAL_ERROR "EMIO_BACKEND=auto has no backend for ${CMAKE_SYSTEM_NAME} in this tree; only epoll (Linux) is provided")
  endif()
endif()

if(emio_backend STREQUAL "epoll" AND NOT CMAKE_SYSTEM_NAME STREQUAL "Linux")
  message(FATAL_ERROR "EMIO_BACKEND=epoll needs Linux; the target system is ${CMAKE_SYSTEM_NAME}")
endif()
if(NOT emio_backend STREQUAL "epoll")
  message(FATAL_ERROR "EMIO_BACKEND=${emio_backend} is not provided by this tree yet; use epoll")
endif()

string(TOUPPER "${emio_backend}" emio_backend_upper)
set(EMIO_BACKEND_MACRO "EMIO_BACKEND_${emio_backend_upper}")
set(EMIO_RESOLVED_BACKEND "${emio_backend}")
message(STATUS "emio backend: ${emio_backend}")

set(EMIO_GENERATED_INCLUDE_DIR "${PROJECT_BINARY_DIR}/generated/include")
configure_file("${CMAKE_CURRENT_LIST_DIR}/config.h.in" "${EMIO_GENERATED_INCLUDE_DIR}/emio/config.h" @ONLY)
