#!/bin/sh
# Installs the system packages ocirt needs, or names them when it cannot.
#
# Usage: install-deps.sh demo|test
#   demo: runc, conmon, busybox-static (what `make demo` runs)
#   test: the same plus valgrind and crun (what `make test` runs)
# As root on Debian or Ubuntu, missing packages are installed with apt-get. Otherwise the
# script lists the missing packages and fails.
set -eu

need="runc:runc conmon:conmon busybox:busybox-static"
case "${1:-demo}" in
    demo) ;;
    test) need="$need valgrind:valgrind crun:crun python3:python3" ;;
    *) echo "usage: $0 demo|test" >&2; exit 2 ;;
esac

missing=""
for entry in $need; do
    command=${entry%%:*}
    package=${entry#*:}
    # runc lives in /usr/sbin, which is not on every user's PATH.
    if ! command -v "$command" >/dev/null 2>&1 && [ ! -x "/usr/sbin/$command" ]; then
        missing="$missing $package"
    fi
done
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
