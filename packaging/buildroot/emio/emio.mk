# SPDX-License-Identifier: MIT
################################################################################
#
# emio
#
################################################################################
# Sample package: set EMIO_SITE to your copy of emio (or EMIO_OVERRIDE_SRCDIR in local.mk while
# developing). scripts/test-board.sh evaluates this file with make to configure emio the same way.

EMIO_VERSION = main
EMIO_SITE = https://example.invalid/emio.git
EMIO_SITE_METHOD = git
EMIO_LICENSE = MIT
EMIO_LICENSE_FILES = LICENSE
# A library: its headers, archives, emio.pc and CMake package go to staging for the packages that use it.
EMIO_INSTALL_STAGING = YES
EMIO_SUPPORTS_IN_SOURCE_BUILD = NO
# cmake-package passes BUILD_SHARED_LIBS from BR2_STATIC_LIBS / BR2_SHARED_LIBS, which emio honours.
EMIO_CONF_OPTS = -DEMIO_BUILD_TESTS=OFF -DEMIO_BUILD_BENCH=OFF

ifeq ($(BR2_PACKAGE_EMIO_IO_URING),y)
EMIO_DEPENDENCIES += liburing host-pkgconf
EMIO_CONF_OPTS += -DEMIO_BACKEND=uring
else
EMIO_CONF_OPTS += -DEMIO_BACKEND=epoll
endif

$(eval $(cmake-package))
