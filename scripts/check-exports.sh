#!/bin/sh
# Fails when the shared library exports a symbol whose name does not start with ocirt_.
# Usage: check-exports.sh LIBRARY
set -eu
lib=$1
all=$(nm -D --defined-only "$lib" | awk '{print $3}' | sort -u)
bad=$(printf '%s\n' "$all" | grep -v '^ocirt_' || true)
count=$(printf '%s\n' "$all" | grep -c '^ocirt_' || true)
if [ -n "$bad" ]; then
    echo "exports: $lib exports symbols outside the ocirt_ prefix:" >&2
    printf '  %s\n' $bad >&2
    exit 1
fi
echo "exports: $count symbols, all ocirt_"
