"""Measure container output throughput into a Python callback through the binding.

Usage: stream.py --rootfs DIR --run-dir DIR --runtime-root DIR --mib N --library PATH

Runs one container that writes N MiB of zeros with ``dd if=/dev/zero bs=65536`` (log driver
"none"). Attaches with ``"start": true`` and a callback that only counts bytes, and prints
one JSON line: ``{"mib_per_second": X, "bytes": B}``. The time runs from the attach call to
the end of the session, as for the library's C-callback row in ``cargo bench``. Needs root,
runc and conmon. Exits 1 when bytes were lost.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

# A source checkout runs this script without installing the package.
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))


def parse_arguments() -> argparse.Namespace:
    """Parse the command line."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rootfs", required=True, help="busybox root filesystem directory")
    parser.add_argument("--run-dir", required=True, help="the runtime's run directory")
    parser.add_argument("--runtime-root", required=True, help="runc's --root directory")
    parser.add_argument("--mib", type=int, required=True, help="MiB of output to stream")
    parser.add_argument("--library", required=True, help="path of libocirt.so to load")
    return parser.parse_args()


def main() -> int:
    arguments = parse_arguments()
    if arguments.mib < 1:
        print("stream.py: --mib must be at least 1", file=sys.stderr)
        return 2
    # The binding reads OCIRT_LIBRARY when it loads the library, on first use.
    os.environ["OCIRT_LIBRARY"] = arguments.library
    import ocirt

    expected = arguments.mib * 1024 * 1024
    command = f"dd if=/dev/zero bs=65536 count={expected // 65536} 2>/dev/null"
    received = 0

    def count(data: bytes) -> None:
        nonlocal received
        received += len(data)

    with ocirt.Runtime(run_dir=arguments.run_dir, runtime_root=arguments.runtime_root) as runtime:
        container = runtime.new_container(
            id=f"bench-python-{os.getpid()}",
            spec=ocirt.default_spec(["sh", "-c", command]),
            rootfs=os.path.abspath(arguments.rootfs),
            log_driver="none",
        )
        try:
            container.create()
            began = time.perf_counter()
            with container.attach(stdout=count, stderr=count, start=True) as session:
                session.wait()
            seconds = time.perf_counter() - began
            container.wait(30)
        except BaseException:
            # Remove the container, but report the error that ended the run.
            try:
                container.delete()
            except ocirt.OcirtError as error:
                print(f"stream.py: deleting {container.id} failed: {error}", file=sys.stderr)
            raise
        else:
            container.delete()
        finally:
            container.close()

    if received != expected:
        print(f"stream.py: received {received} bytes, expected {expected}", file=sys.stderr)
        return 1
    mib_per_second = received / (1024 * 1024) / seconds
    print(json.dumps({"mib_per_second": round(mib_per_second, 1), "bytes": received}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
