#!/bin/sh
# What the hardened grading (grader/, tests/test_grading_*.py) needs from the system, installed when missing:
# - the unprivileged user that learners' kernels run as;
# - PostgreSQL, the gradebook database for many workers (Debian's package; the tests start their own server).
# Needs root or sudo; Linux only.
set -e
SUDO=""
if [ "$(id -u)" != 0 ]; then
    SUDO=sudo
fi
if ! id course-sandbox >/dev/null 2>&1; then
    $SUDO useradd --system --no-create-home --home-dir /nonexistent --shell /usr/sbin/nologin course-sandbox
fi
if ! ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1; then
    $SUDO apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq postgresql >/dev/null
fi
# The kernel runs the course's Python as course-sandbox: it must be able to reach the interpreter behind the
# virtual environment (pyenv often keeps it under /root, which is 0700). Directories on the way get o+x (enter,
# not list); nothing else changes. Pass the venv's python as the first argument.
if [ -n "$1" ]; then
    dir=$(dirname "$(readlink -f "$1")")
    while [ "$dir" != "/" ]; do
        if ! runuser -u course-sandbox -- test -x "$dir" 2>/dev/null; then
            echo "install_grading: chmod o+x $dir (so that course-sandbox can reach the Python interpreter)"
            $SUDO chmod o+x "$dir"
        fi
        dir=$(dirname "$dir")
    done
fi
