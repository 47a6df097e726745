"""The harness's main job against the guide run literally, measured the same way, paired.

Alternates, N times in one invocation (A B A B ...): benchmarks/by_the_guide.py (the
guide's commands, one after another, each awaited) and the main job (`pytest
--prefect-job main`). Each is measured as a whole process tree (tree_usage.py): its wall
time, and its CPU as the kernel accounts it for every process of the tree once reaped
(user + system; this process is their subreaper, so an orphan is counted too). Prints
every pair, then the medians and the two ratios the project tracks (issue 30): main job /
the guide, for wall (goal <= 0.45) and CPU (goal <= 1.2; beyond it, <= 1.0). With
--backends, each pair runs the main job on each backend in turn (the guide stays on its
embedded default, SQLite). Where the main job's CPU goes: pytest --prefect-cpu-accounting.

    .venv/bin/python benchmarks/compare.py --runs 3
    .venv/bin/python benchmarks/compare.py --runs 3 --backends sqlite,postgresql,production
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from blueprint_harness.process.tree_usage import TreeUsage, run_measured

PYTHON = str(ROOT / ".venv" / "bin" / "python")
MAIN_JOB = (PYTHON, "-m", "pytest", "-q", "-p", "no:randomly", "--prefect-job", "main")
BY_THE_GUIDE = (PYTHON, str(ROOT / "benchmarks" / "by_the_guide.py"))
GOALS = {"wall": 0.45, "cpu": 1.2}


def measured(what: str, *args: str) -> TreeUsage:
    usage = run_measured(args, ROOT)
    if usage.returncode != 0:
        raise SystemExit(f"{what} failed:\n{usage.output[-3000:]}")
    return usage


def main_job(backend: str) -> TreeUsage:
    with tempfile.TemporaryDirectory(prefix="bench-suite-") as logs:
        return measured(
            f"the main job on {backend}",
            *MAIN_JOB,
            f"--prefect-backend={backend}",
            f"--prefect-log-dir={logs}",
        )


def medians(runs: list[TreeUsage]) -> dict[str, float]:
    return {kind: statistics.median(getattr(run, kind) for run in runs) for kind in GOALS}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--backends", default="sqlite", help="comma-separated, in this order")
    args = parser.parse_args()
    backends = args.backends.split(",")
    jobs: dict[str, list[TreeUsage]] = {backend: [] for backend in backends}
    guide: list[TreeUsage] = []
    for i in range(1, args.runs + 1):
        guide.append(measured("the guide run literally", *BY_THE_GUIDE))
        for backend in backends:
            jobs[backend].append(main_job(backend))
        shown = ", ".join(f"{backend} {runs[-1]}" for backend, runs in jobs.items())
        print(f"pair {i}: the guide {guide[-1]}; main job {shown}", flush=True)
    literal = medians(guide)
    print(
        f"medians of {args.runs}: the guide {literal['wall']:.1f}s wall, {literal['cpu']:.1f}s CPU"
    )
    for backend, runs in jobs.items():
        job = medians(runs)
        ratios = ", ".join(
            f"{kind} {job[kind] / literal[kind]:.2f} (goal <= {goal})"
            for kind, goal in GOALS.items()
        )
        print(
            f"  {backend:11} main job {job['wall']:.1f}s wall, {job['cpu']:.1f}s CPU; "
            f"main job / the guide: {ratios}"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
