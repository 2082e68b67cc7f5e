# SPDX-License-Identifier: MIT
# Sample recipe: copy it into a layer (recipes-support/emio/emio_git.bb) and point EMIO_GIT_URI at your
# copy of emio. scripts/test-board.sh configures, builds and stages emio with this file's options.
SUMMARY = "IO runtime for embedded Linux daemons (C++20 and C99)"
LICENSE = "MIT"
LIC_FILES_CHKSUM = "file://LICENSE;md5=c6454fe948de4deb2e8a633d605d0e49"

EMIO_GIT_URI ??= "git://example.invalid/emio.git;protocol=https;branch=main"
SRC_URI = "${EMIO_GIT_URI}"
SRCREV = "${AUTOREV}"
PV = "0.1.0+git${SRCPV}"
S = "${WORKDIR}/git"

inherit cmake pkgconfig systemd

# The library and its two daemons only: the tests need CppUTest and run on the build machine.
EXTRA_OECMAKE = "-DEMIO_BUILD_TESTS=OFF -DEMIO_BUILD_BENCH=OFF"

# io_uring with epoll as the fallback needs liburing on the board; without it the build is epoll only.
# Off on 32-bit ARM, as EMIO_BACKEND=auto decides: libuv disabled io_uring there (libuv#4158).
PACKAGECONFIG ??= "io_uring"
PACKAGECONFIG:remove:arm = "io_uring"
PACKAGECONFIG[io_uring] = "-DEMIO_BACKEND=uring,-DEMIO_BACKEND=epoll,liburing"

# Static libraries (the default) go to ${PN}-staticdev, headers, emio.pc and the CMake package to ${PN}-dev.
# The daemons link emio statically, so ${PN} itself needs only libstdc++ (and liburing2 with io_uring).
SYSTEMD_SERVICE:${PN} = "emio-echo.socket emio-bridge.socket"
SYSTEMD_AUTO_ENABLE = "disable"

do_install:append() {
    install -d ${D}${systemd_system_unitdir}
    for unit in ${S}/packaging/systemd/*.service ${S}/packaging/systemd/*.socket; do
        install -m 0644 "$unit" ${D}${systemd_system_unitdir}/
    done
    # The unit files name /usr/local/bin, where `cmake --install` puts the daemons by default.
    sed -i -e 's|/usr/local/bin/|${bindir}/|' ${D}${systemd_system_unitdir}/*.service
}
