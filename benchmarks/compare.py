"""The harness's main job against the guide done by hand, measured the same way.

Alternates, N times: the main job (`pytest -m "phase1 or phase2 or phase3"`, reading its
critical path from timings.json) and benchmarks/by_the_guide.py. Prints every run,
then the medians and the two ratios the project tracks:
  wall / critical path (goal <= 1.3) and wall / literal guide (goal <= 0.4).

    .venv/bin/python benchmarks/compare.py --runs 3
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
MAIN_JOB = ("-m", "pytest", "-q", "-p", "no:randomly", "-m", "phase1 or phase2 or phase3")


def run_main_job() -> dict[str, float]:
    with tempfile.TemporaryDirectory(prefix="bench-suite-") as logs:
        began = time.monotonic()
        result = subprocess.run(
            [str(PYTHON), *MAIN_JOB, f"--prefect-log-dir={logs}"],
            cwd=ROOT,
            capture_output=True,
            text=True,
            check=False,
        )
        wall = time.monotonic() - began
        if result.returncode != 0:
            raise SystemExit(f"the main job failed:\n{result.stdout[-3000:]}")
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
    runs = parser.parse_args().runs
    suite, literal = [], []
    for i in range(1, runs + 1):
        suite.append(run_main_job())
        literal.append(run_by_the_guide())
        print(
            f"round {i}: main job {suite[-1]['wall']:.1f}s (critical path "
            f"{suite[-1]['critical_path']:.1f}s), by the guide {literal[-1]:.1f}s",
            flush=True,
        )
    wall = statistics.median(s["wall"] for s in suite)
    critical = statistics.median(s["critical_path"] for s in suite)
    by_hand = statistics.median(literal)
    print(
        f"medians of {runs}: main job {wall:.1f}s, its critical path {critical:.1f}s, "
        f"by the guide {by_hand:.1f}s\n"
        f"wall / critical path = {wall / critical:.2f} (goal <= 1.3); "
        f"wall / by the guide = {wall / by_hand:.2f} (goal <= 0.4)"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
