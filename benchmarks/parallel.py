"""The full suite serially and on both cores (pytest-xdist), measured in one invocation.

Runs `pytest` and `pytest -n 2` (each stack's tests stay in one worker: --dist loadgroup)
alternately, N times each, and prints every run and the medians. Both must pass.

    .venv/bin/python benchmarks/parallel.py --runs 1
    .venv/bin/python benchmarks/parallel.py --runs 3 -- --prefect-job phases
"""

from __future__ import annotations

import argparse
import re
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PYTEST = (str(ROOT / ".venv" / "bin" / "python"), "-m", "pytest", "-q", "-p", "no:randomly")
SUMMARY = re.compile(r"^=*\s*(\d+ (?:passed|failed)[^\n]*?) in [0-9.]+s", re.MULTILINE)


def run(extra: list[str], pytest_args: list[str]) -> tuple[float, str]:
    with tempfile.TemporaryDirectory(prefix="bench-parallel-") as logs:
        began = time.monotonic()
        result = subprocess.run(
            [*PYTEST, *extra, *pytest_args, f"--prefect-log-dir={logs}"],
            cwd=ROOT,
            capture_output=True,
            text=True,
            check=False,
        )
        wall = time.monotonic() - began
    found = SUMMARY.findall(result.stdout)
    summary = found[-1] if found else result.stdout[-300:]
    if result.returncode != 0:
        raise SystemExit(f"pytest {' '.join(extra)} failed ({summary}):\n{result.stdout[-3000:]}")
    return wall, summary


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=1)
    parser.add_argument("pytest_args", nargs="*", help="after --: a selection for both")
    args = parser.parse_args()
    walls: dict[str, list[float]] = {"serial": [], "-n 2": []}
    for i in range(1, args.runs + 1):
        for label, extra in (("serial", []), ("-n 2", ["-n", "2"])):
            wall, summary = run(extra, args.pytest_args)
            walls[label].append(wall)
            print(f"round {i}: {label:6} {wall:6.1f}s  ({summary})", flush=True)
    serial, parallel = (statistics.median(walls[k]) for k in ("serial", "-n 2"))
    print(
        f"medians of {args.runs}: serial {serial:.1f}s, -n 2 {parallel:.1f}s "
        f"(speed-up {serial / parallel:.2f}x)"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
