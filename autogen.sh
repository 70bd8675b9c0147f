#!/bin/sh
# autogen.sh - regenerate the build system from a fresh checkout.
# m4/ and build-aux/ are generated (not in git); create them first because
# aclocal refuses an AC_CONFIG_MACRO_DIRS entry that does not exist.
set -e
cd "$(dirname "$0")"
mkdir -p m4 build-aux
autoreconf -fi
