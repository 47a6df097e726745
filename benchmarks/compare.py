"""The harness's main job against the guide done by hand, measured the same way.

Alternates, N times: the main job (`pytest --prefect-job main`, its
critical path from timings.json) and benchmarks/by_the_guide.py. Prints every run,
then the medians and the two ratios the project tracks:
  wall / critical path (goal <= 1.3) and wall / literal guide (goal <= 0.55).
With --backends, each round runs the main job on each backend in turn (the guide by hand
stays on its embedded default, SQLite).

    .venv/bin/python benchmarks/compare.py --runs 3
    .venv/bin/python benchmarks/compare.py --runs 3 --backends sqlite,postgresql,production
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PYTHON = ROOT / ".venv" / "bin" / "python"
MAIN_JOB = ("-m", "pytest", "-q", "-p", "no:randomly", "--prefect-job", "main")


def run_main_job(backend: str) -> dict[str, float]:
    with tempfile.TemporaryDirectory(prefix="bench-suite-") as logs:
        began = time.monotonic()
        result = subprocess.run(
            [str(PYTHON), *MAIN_JOB, f"--prefect-backend={backend}", f"--prefect-log-dir={logs}"],
            cwd=ROOT,
            capture_output=True,
            text=True,
            check=False,
        )
        wall = time.monotonic() - began
        if result.returncode != 0:
            raise SystemExit(f"the main job failed on {backend}:\n{result.stdout[-3000:]}")
        timings = json.loads(next(Path(logs).glob("*/logs/timings.json")).read_text())
    return {"wall": wall, "critical_path": timings["critical_path_seconds"]}


def run_by_the_guide() -> float:
    result = subprocess.run(
        [str(PYTHON), str(ROOT / "benchmarks" / "by_the_guide.py")],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
    )
    return json.loads(result.stdout.strip().splitlines()[-1])["wall_seconds"]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--backends", default="sqlite", help="comma-separated, in this order")
    args = parser.parse_args()
    backends = args.backends.split(",")
    suite: dict[str, list[dict[str, float]]] = {backend: [] for backend in backends}
    literal = []
    for i in range(1, args.runs + 1):
        literal.append(run_by_the_guide())
        jobs = []
        for backend in backends:
            job = run_main_job(backend)
            suite[backend].append(job)
            jobs.append(f"{backend} {job['wall']:.1f}s (critical path {job['critical_path']:.1f}s)")
        print(f"round {i}: by the guide {literal[-1]:.1f}s; main job {', '.join(jobs)}", flush=True)
    by_hand = statistics.median(literal)
    print(f"medians of {args.runs}: by the guide {by_hand:.1f}s")
    for backend, jobs in suite.items():
        wall = statistics.median(job["wall"] for job in jobs)
        critical = statistics.median(job["critical_path"] for job in jobs)
        print(
            f"  {backend:11} main job {wall:.1f}s, its critical path {critical:.1f}s; "
            f"wall / critical path = {wall / critical:.2f} (goal <= 1.3), "
            f"wall / by the guide = {wall / by_hand:.2f} (goal <= 0.55)"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
