"""Where the main job's CPU goes: every CPU-second of its process tree, by kind of process.

Runs the main job once under the kernel's process accounting (accounting.py: one record
per process at its exit; needs root, for CAP_SYS_PACCT), with the harness naming the
processes only it can tell apart (servers, workers, each CLI command by name). Prints the
CPU seconds of each kind (the API server, the workers, the flow-run processes, each CLI
command, Chromium and Playwright's driver, pytest itself, ...), their sum, and the
kernel's own total for the tree (getrusage of the reaped tree): the two agree unless a
process escaped the tree. --json writes the same as JSON.

    sudo .venv/bin/python benchmarks/where_the_cpu_goes.py
    sudo .venv/bin/python benchmarks/where_the_cpu_goes.py --json cpu.json -- -x
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from blueprint_harness.process import accounting
from blueprint_harness.process.tree_usage import run_measured

PYTHON = str(ROOT / ".venv" / "bin" / "python")
MAIN_JOB = (PYTHON, "-m", "pytest", "-q", "-p", "no:randomly", "--prefect-job", "main")
PYTEST = "pytest (the harness itself)"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--json", type=Path, help="also write the accounting here")
    parser.add_argument("pytest_args", nargs="*", help="more pytest options, after --")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="cpu-accounting-") as scratch:
        folder = Path(scratch)
        labels = folder / "labels.tsv"
        env = {**os.environ, accounting.LABELS_VARIABLE: str(labels)}
        command = (*MAIN_JOB, f"--prefect-log-dir={folder / 'logs'}", *args.pytest_args)
        with accounting.kernel_accounting(folder / "acct") as records:
            usage = run_measured(command, ROOT, env)
        if usage.returncode != 0:
            raise SystemExit(f"the main job failed:\n{usage.output[-3000:]}")
        named = {**accounting.labels(labels), usage.pid: PYTEST}
        kinds = accounting.by_kind(accounting.records(records), {usage.pid, os.getpid()}, named)
    accounted = sum(kinds.values())
    for kind, seconds in kinds.items():
        print(f"{seconds:8.1f}s  {100 * seconds / accounted:5.1f}%  {kind}")
    gap = 100 * (usage.cpu - accounted) / usage.cpu
    print(f"{accounted:8.1f}s  accounted, by kind")
    print(f"{usage.cpu:8.1f}s  the kernel's total for the tree ({gap:+.1f}% not accounted)")
    print(f"{usage.wall:8.1f}s  wall")
    if args.json:
        summary = {"wall": usage.wall, "kernel_cpu": usage.cpu, "cpu_by_kind": kinds}
        args.json.write_text(json.dumps(summary, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
