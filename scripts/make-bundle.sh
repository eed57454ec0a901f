#!/bin/sh
# Builds an OCI bundle with a busybox root filesystem.
#
# Usage: make-bundle.sh DIR [ARG...]
#   DIR/rootfs       busybox-static and a link per applet, plus the usual mount points
#   DIR/config.json  a spec that runs ARG... (default: sh) as root with PATH=/bin, in private
#                    pid, mount, ipc and uts namespaces, on a read-only root with a tmpfs /tmp
# An existing rootfs is kept, so the script is cheap to run again. Needs busybox (Debian
# package busybox-static) and python3 (to write the JSON).
set -eu

if [ $# -lt 1 ]; then
    echo "usage: $0 DIR [ARG...]" >&2
    exit 2
fi
dir=$1
shift

busybox=$(command -v busybox || true)
if [ -z "$busybox" ]; then
    echo "$0: busybox not found: install the busybox-static package" >&2
    exit 1
fi

mkdir -p "$dir"
rootfs="$dir/rootfs"
if [ ! -x "$rootfs/bin/busybox" ]; then
    tmp="$dir/.rootfs.tmp.$$"
    rm -rf "$tmp"
    mkdir -p "$tmp/bin" "$tmp/proc" "$tmp/sys" "$tmp/dev" "$tmp/tmp" "$tmp/etc" "$tmp/root"
    cp "$busybox" "$tmp/bin/busybox"
    for applet in $("$busybox" --list); do
        [ "$applet" = busybox ] || ln -sf busybox "$tmp/bin/$applet"
    done
    printf 'root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/:/bin/false\n' > "$tmp/etc/passwd"
    printf 'root:x:0:\nnogroup:x:65534:\n' > "$tmp/etc/group"
    # Another run may have finished first. Keep whichever rootfs landed: -T makes mv fail on
    # an existing rootfs instead of moving the new tree into it.
    mv -T "$tmp" "$rootfs" 2>/dev/null || rm -rf "$tmp"
fi

python3 - "$dir/config.json" "$@" <<'PY'
import json, sys

path, args = sys.argv[1], sys.argv[2:] or ["sh"]
caps = ["CAP_AUDIT_WRITE", "CAP_KILL", "CAP_NET_BIND_SERVICE", "CAP_CHOWN", "CAP_DAC_OVERRIDE",
        "CAP_FOWNER", "CAP_FSETID", "CAP_SETGID", "CAP_SETUID", "CAP_SETPCAP", "CAP_NET_RAW",
        "CAP_SYS_CHROOT", "CAP_MKNOD", "CAP_SETFCAP"]
spec = {
    "ociVersion": "1.0.2",
    "process": {
        "terminal": False,
        "user": {"uid": 0, "gid": 0},
        "args": args,
        "env": ["PATH=/bin", "TERM=xterm"],
        "cwd": "/",
        "capabilities": {k: caps for k in ("bounding", "effective", "permitted")},
        "rlimits": [{"type": "RLIMIT_NOFILE", "hard": 1024, "soft": 1024}],
        "noNewPrivileges": True,
    },
    "root": {"path": "rootfs", "readonly": True},
    "hostname": "ocirt",
    "mounts": [
        {"destination": "/proc", "type": "proc", "source": "proc"},
        {"destination": "/dev", "type": "tmpfs", "source": "tmpfs",
         "options": ["nosuid", "strictatime", "mode=755", "size=65536k"]},
        {"destination": "/dev/pts", "type": "devpts", "source": "devpts",
         "options": ["nosuid", "noexec", "newinstance", "ptmxmode=0666", "mode=0620", "gid=5"]},
        {"destination": "/dev/shm", "type": "tmpfs", "source": "shm",
         "options": ["nosuid", "noexec", "nodev", "mode=1777", "size=65536k"]},
        {"destination": "/dev/mqueue", "type": "mqueue", "source": "mqueue",
         "options": ["nosuid", "noexec", "nodev"]},
        {"destination": "/sys", "type": "sysfs", "source": "sysfs",
         "options": ["nosuid", "noexec", "nodev", "ro"]},
        {"destination": "/tmp", "type": "tmpfs", "source": "tmpfs",
         "options": ["nosuid", "nodev", "mode=1777"]},
    ],
    "linux": {
        "resources": {"devices": [{"allow": False, "access": "rwm"}]},
        "namespaces": [{"type": t} for t in ("pid", "ipc", "uts", "mount")],
        "maskedPaths": ["/proc/acpi", "/proc/kcore", "/proc/keys", "/proc/latency_stats",
                        "/proc/timer_list", "/proc/timer_stats", "/proc/sched_debug",
                        "/sys/firmware", "/proc/scsi"],
        "readonlyPaths": ["/proc/asound", "/proc/bus", "/proc/fs", "/proc/irq", "/proc/sys",
                          "/proc/sysrq-trigger"],
    },
}
with open(path, "w") as f:
    json.dump(spec, f, indent=2)
    f.write("\n")
PY
