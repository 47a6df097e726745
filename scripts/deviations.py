"""Prove the harness goes red when the blueprint deviates from the guide.

Each deviation copies the blueprint (flows/, prefect.yaml) to a scratch folder, changes
one thing the guide promises, and runs the phases against the copy with
--prefect-project-dir. The harness must fail; a deviation it passes is a hole.

    .venv/bin/python scripts/deviations.py            # all of them (~25 min)
    .venv/bin/python scripts/deviations.py cron tz    # some of them
"""

from __future__ import annotations

import argparse
import re
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
FLOW = "flows/data_pipeline.py"
MANIFEST = "prefect.yaml"


@dataclass(frozen=True)
class Deviation:
    name: str
    file: str
    old: str
    new: str
    markers: str = "phase1 or phase2 or phase3"


DEVIATIONS = (
    Deviation("retries", FLOW, "IO_RETRIES = 3", "IO_RETRIES = 2", "phase3"),
    Deviation(
        "delay-longer", FLOW, "IO_RETRY_DELAY_SECONDS = 2", "IO_RETRY_DELAY_SECONDS = 3", "phase3"
    ),
    Deviation(
        "delay-shorter", FLOW, "IO_RETRY_DELAY_SECONDS = 2", "IO_RETRY_DELAY_SECONDS = 1", "phase3"
    ),
    Deviation("cron", MANIFEST, '"0 9 * * *"', '"0 10 * * *"', "phase2"),
    Deviation("timezone", MANIFEST, "timezone: America/Chicago", "timezone: UTC", "phase2"),
    Deviation("schedule-inactive", MANIFEST, "active: true", "active: false", "phase2"),
    Deviation("flow-name", FLOW, 'name="Enterprise Data Pipeline"', 'name="Enterprise Pipeline"'),
    Deviation(
        "deployment-name", MANIFEST, "- name: production-etl", "- name: production-etl-v2", "phase2"
    ),
    Deviation("work-pool", MANIFEST, "name: local-process-pool", "name: default-pool", "phase2"),
    Deviation("flow-default", FLOW, "DEFAULT_BATCH_SIZE = 500", "DEFAULT_BATCH_SIZE = 400"),
    Deviation(
        "manifest-default", MANIFEST, "batch_size: 500", "batch_size: 400", "phase2 or phase3"
    ),
    Deviation(
        "batch-size-ignored",
        FLOW,
        "records = extract(source_url, batch_size)",
        "records = extract(source_url, DEFAULT_BATCH_SIZE)",
        "phase3",
    ),
    Deviation(
        "table-ignored",
        FLOW,
        "loaded = load(transform(records), target_table)",
        "loaded = load(transform(records), DEFAULT_TARGET_TABLE)",
        "phase3",
    ),
    Deviation(
        "failure-swallowed",
        FLOW,
        'if parsed.scheme not in ("http", "https") or not parsed.hostname:',
        'if parsed.scheme not in ("http", "https", "invalid") or not parsed.hostname:',
        "phase3",
    ),
    Deviation(
        "no-retry-on-extract",
        FLOW,
        "@task(retries=IO_RETRIES, retry_delay_seconds=IO_RETRY_DELAY_SECONDS)\ndef extract",
        "@task\ndef extract",
        "phase3",
    ),
)


def run(deviation: Deviation, python: Path) -> tuple[bool, float, str]:
    """Run the phases against a deviating copy; (went red, seconds, failed tests)."""
    with tempfile.TemporaryDirectory(prefix=f"deviation-{deviation.name}-") as scratch:
        project = Path(scratch)
        shutil.copytree(
            ROOT / "flows", project / "flows", ignore=shutil.ignore_patterns("__pycache__")
        )
        shutil.copy(ROOT / MANIFEST, project / MANIFEST)
        target = project / deviation.file
        text = target.read_text()
        if deviation.old not in text:
            raise SystemExit(f"{deviation.name}: {deviation.old!r} not found in {deviation.file}")
        target.write_text(text.replace(deviation.old, deviation.new, 1))
        started = time.monotonic()
        result = subprocess.run(
            [
                str(python),
                "-m",
                "pytest",
                "-m",
                deviation.markers,
                "-q",
                "-x",
                "--no-header",
                "-p",
                "no:randomly",
                f"--prefect-project-dir={project}",
            ],
            cwd=ROOT,
            capture_output=True,
            text=True,
            check=False,
        )
        failed = re.findall(r"^(?:FAILED|ERROR) (\S+)", result.stdout, re.MULTILINE)
        return result.returncode != 0, time.monotonic() - started, ", ".join(failed)


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("names", nargs="*", help="deviations to try (default: all)")
    args = parser.parse_args()
    chosen = [d for d in DEVIATIONS if not args.names or d.name in args.names]
    python = ROOT / ".venv" / "bin" / "python"
    holes = 0
    for deviation in chosen:
        red, seconds, failed = run(deviation, python)
        holes += not red
        verdict = "RED (caught)" if red else "GREEN (HOLE: the harness passed a broken blueprint)"
        print(f"{deviation.name:22} {verdict:10} {seconds:5.0f}s  {failed}", flush=True)
    print(f"{len(chosen) - holes}/{len(chosen)} deviations caught")
    return 1 if holes else 0


if __name__ == "__main__":
    sys.exit(main())
