#!/bin/sh
# Install Debian's chromium for the browser tests (tests/test_site.py), unless it is there already.
# Playwright's own browser download needs the internet; Debian's package comes from the package mirror.
set -e
if command -v chromium >/dev/null 2>&1; then
    exit 0
fi
SUDO=""
if [ "$(id -u)" != 0 ]; then
    SUDO=sudo
fi
$SUDO apt-get update -qq
DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq chromium >/dev/null
chromium --version
