#!/bin/sh
# Installs the Debian packages that `make demo` or `make test` needs, or names them when it
# cannot.
#
# Usage: install-deps.sh demo|test
#   demo: what `make demo` runs.
#         runc, conmon and busybox-static.
#         python3, with which make-bundle.sh writes config.json.
#         gcc and libc6-dev, to compile examples/demo.c.
#   test: what `make test` runs. The demo's packages, and:
#         g++ for the header's C++ check, and binutils (nm) for the export check.
#         valgrind, crun, and criu for the checkpoint tests (which skip where CRIU cannot
#         dump).
#         python3-venv, for the virtual environment of the Python tests.
# As root on Debian or Ubuntu, missing packages are installed with apt-get. Otherwise the
# script lists the missing packages and fails.
#
# Rust 1.74+ and, for `make test`, Go 1.24+ are not checked here, because Debian 12's own
# packages are older. Install them with rustup and from go.dev.
set -eu

# Each entry is COMMAND:PACKAGE. The package is missing when the command is not found.
need="runc:runc conmon:conmon busybox:busybox-static python3:python3 cc:gcc"
case "${1:-demo}" in
    demo) ;;
    test) need="$need c++:g++ valgrind:valgrind crun:crun criu:criu nm:binutils" ;;
    *) echo "usage: $0 demo|test" >&2; exit 2 ;;
esac

missing=""
for entry in $need; do
    command=${entry%%:*}
    package=${entry#*:}
    # runc and criu live in /usr/sbin, which is not on every user's PATH.
    if ! command -v "$command" >/dev/null 2>&1 && [ ! -x "/usr/sbin/$command" ]; then
        missing="$missing $package"
    fi
done

# A C compiler without the C library's headers cannot build the demo.
if [ ! -f /usr/include/stdio.h ]; then
    missing="$missing libc6-dev"
fi

# Debian's python3 makes virtual environments only with python3-venv, which ships ensurepip.
if [ "${1:-demo}" = test ] && command -v python3 >/dev/null 2>&1 &&
    ! python3 -c 'import ensurepip' >/dev/null 2>&1; then
    missing="$missing python3-venv"
fi
[ -z "$missing" ] && exit 0

if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
    echo "installing:$missing"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq
    # shellcheck disable=SC2086
    apt-get install -y -qq $missing >/dev/null
    exit 0
fi
echo "missing packages:$missing" >&2
echo "install them (for example: sudo apt-get install$missing) and run make again" >&2
exit 1
