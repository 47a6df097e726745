"""Prove the main job goes red when the blueprint breaks a promise, and only then.

Each case copies the blueprint (flows/, prefect.yaml) to a scratch folder, edits the copy,
and runs the main job (`pytest --prefect-job main`: the pre-deploy check, phases 1-3 and
the contract) against it with --prefect-project-dir:

- first the control: the unmodified copy, which must pass (a copy that cannot run would
  make every deviation look caught);
- then the spellings: every promise kept in another spelling (2.0 for 2, a value from a
  setting, a list of delays, ge=1 for gt=0, another cron spelling, other log wording,
  renamed Python functions, run-name templates, YAML anchors and explicit defaults in the
  manifest, job variables of the team's own, messages with more detail, ...), all at
  once, which must pass too;
- then each deviation, which counts as caught only when the main job as a whole goes red:
  pytest ran and a test failed (not a usage, collection or set-up error). It stops at the
  first failure (-x): the failing test is printed, and `breaks` says which promise.

    .venv/bin/python scripts/deviations.py                 # everything (CI runs this)
    .venv/bin/python scripts/deviations.py cron timezone   # the control and some cases
    .venv/bin/python scripts/deviations.py --no-control cron   # just those cases
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time
import xml.etree.ElementTree as ElementTree
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from deviation_cases import CONTROL, DEVIATIONS, OTHER_CHECKOUT, SPELLINGS, Case, Edit

from blueprint_harness.guide.commands import copy_project

# Two cases at a time: each is mostly waiting on its runs, so two share the cores well.
AT_ONCE = 2


@dataclass
class Verdict:
    case: Case
    returncode: int
    seconds: float
    failed: list[str] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    passed: int = 0
    output: str = ""

    @property
    def green(self) -> bool:
        return self.returncode == 0 and not self.failed and not self.errors and self.passed > 0

    @property
    def caught(self) -> bool:
        """The main job went red: a test failed (not a usage, collection or set-up error)."""
        return self.returncode == 1 and bool(self.failed) and not self.errors

    def line(self, want_green: bool) -> str:
        ok = self.green if want_green else self.caught
        if want_green:
            verdict = "GREEN" if ok else "RED (the main job fails a blueprint that keeps its word)"
        elif ok:
            verdict = "CAUGHT"
        elif self.returncode == 0:
            verdict = "MISSED: the main job passed a broken blueprint"
        else:
            verdict = f"NOT A CATCH: pytest exited {self.returncode} with errors, not failures"
        failed = f"  failed: {', '.join(self.failed)}" if self.failed else ""
        errors = f"  errors: {', '.join(self.errors)}" if self.errors else ""
        breaks = f" [{self.case.breaks}]" if self.case.breaks else ""
        timing = f"({self.seconds:.0f}s, {self.passed} passed)"
        return f"{self.case.name:36} {verdict}{breaks} {timing}{failed}{errors}"


def copy_blueprint(target: Path) -> Path:
    return copy_project(ROOT, target)


def apply(project: Path, edits: Sequence[Edit], other_checkout: Path) -> None:
    for edit in edits:
        path = project / edit.file
        text = path.read_text()
        if text.count(edit.old) != 1:
            raise SystemExit(f"{edit.old!r} is not in {edit.file} exactly once: update this case")
        path.write_text(
            text.replace(
                edit.old, edit.new.replace(OTHER_CHECKOUT, os.path.relpath(other_checkout, project))
            )
        )


def results(junit: Path) -> tuple[list[str], list[str], int]:
    """(failed test ids, errored test ids, passed count) from pytest's JUnit XML."""
    failed: list[str] = []
    errors: list[str] = []
    passed = 0
    if not junit.exists():
        return failed, errors, passed
    for case in ElementTree.parse(junit).iter("testcase"):
        path = case.get("classname", "").replace(".", "/") + ".py"
        test_id = f"{path}::{case.get('name')}"
        if case.find("failure") is not None:
            failed.append(test_id)
        elif case.find("error") is not None:
            errors.append(test_id)
        elif case.find("skipped") is None:
            passed += 1
    return failed, errors, passed


def run(case: Case, scratch: Path, other_checkout: Path, *, first_failure: bool) -> Verdict:
    """The main job on the case's copy of the blueprint (to its first failure, if asked)."""
    folder = scratch / case.name.split(" ")[0]
    project = copy_blueprint(folder / "project")
    apply(project, case.edits, other_checkout)
    junit = folder / "junit.xml"
    started = time.monotonic()
    result = subprocess.run(
        [
            str(ROOT / ".venv" / "bin" / "python"),
            "-m",
            "pytest",
            "--prefect-job",
            "main",
            *(["-x"] if first_failure else []),
            "-q",
            "--no-header",
            "-p",
            "no:randomly",
            f"--junitxml={junit}",
            f"--prefect-project-dir={project}",
            f"--prefect-log-dir={folder / 'logs'}",
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=False,
    )
    failed, errors, passed = results(junit)
    return Verdict(
        case, result.returncode, time.monotonic() - started, failed, errors, passed, result.stdout
    )


def commits() -> int:
    """How many commits the checkout holds (0 outside git): what turns the CI's share."""
    counted = subprocess.run(
        ["git", "rev-list", "--count", "HEAD"], cwd=ROOT, capture_output=True, text=True
    )
    return int(counted.stdout.strip() or 0) if counted.returncode == 0 else 0


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("names", nargs="*", help="deviations to try (default: all)")
    parser.add_argument("--keep", action="store_true", help="keep the scratch folder")
    parser.add_argument(
        "--no-control", action="store_true", help="skip the control and the spellings"
    )
    parser.add_argument(
        "--share",
        type=int,
        default=1,
        metavar="N",
        help="run one N-th of the deviations, the share turning with each commit (CI)",
    )
    args = parser.parse_args()
    unknown = set(args.names) - {case.name for case in DEVIATIONS}
    if unknown:
        parser.error(f"no such deviation: {', '.join(sorted(unknown))}")
    chosen = [case for case in DEVIATIONS if not args.names or case.name in args.names]
    if args.share > 1:
        turn = commits() % args.share
        chosen = [case for i, case in enumerate(chosen) if i % args.share == turn]
        print(f"share {turn + 1} of {args.share} (turning with each commit): {len(chosen)} cases")
    scratch = Path(tempfile.mkdtemp(prefix="deviations-"))
    try:
        other_checkout = copy_blueprint(scratch / "other-checkout")
        began = time.monotonic()
        with ThreadPoolExecutor(AT_ONCE) as pool:
            green: list[Verdict] = []
            if not args.no_control:
                green = list(
                    pool.map(
                        lambda case: run(case, scratch, other_checkout, first_failure=False),
                        [CONTROL, SPELLINGS],
                    )
                )
                for verdict in green:
                    print(verdict.line(want_green=True), flush=True)
                if not green[0].green:
                    print("The control run failed: no deviation can be judged.")
                    print(green[0].output[-4000:])
                    return 2
            verdicts = []
            for verdict in pool.map(
                lambda case: run(case, scratch, other_checkout, first_failure=True), chosen
            ):
                verdicts.append(verdict)
                print(verdict.line(want_green=False), flush=True)
        caught = sum(verdict.caught for verdict in verdicts)
        kept = "; ".join(
            f"{verdict.case.name.split(' ')[0]} {'green' if verdict.green else 'RED'}"
            for verdict in green
        )
        print(
            f"{caught}/{len(verdicts)} deviations caught by the main job"
            f"{'; ' + kept if kept else ''}; {time.monotonic() - began:.0f}s"
        )
        return 0 if caught == len(verdicts) and all(v.green for v in green) else 1
    finally:
        if args.keep:
            print(f"scratch kept: {scratch}")
        else:
            shutil.rmtree(scratch, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
