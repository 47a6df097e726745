"""README stays true of the tree: every path it names exists, its CI table is the gate's
parts as declared (GATE), and the test command it gives is the one .ci/run runs."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.unit

ROOT = Path(__file__).resolve().parents[2]
README = (ROOT / "README.md").read_text()
TOP_LEVEL = ("blueprint_harness/", "fixtures/", "tests/", "scripts/", "benchmarks/", "flows/")
# A path in backquotes, from one of the project's own folders (not a session's logs/...).
NAMED_PATH = re.compile(r"`((?:" + "|".join(map(re.escape, TOP_LEVEL)) + r")[\w./-]*)")


def test_every_path_readme_names_exists():
    named = {match.rstrip(".").split("::")[0] for match in NAMED_PATH.findall(README)}
    missing = sorted(path for path in named if "<" not in path and not (ROOT / path).exists())

    assert named
    assert missing == []


def test_the_ci_table_is_the_gates_parts():
    made = subprocess.run(
        [sys.executable, str(ROOT / "scripts" / "gate.py"), "--table"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()

    assert made in README


def test_ci_runs_the_test_command_readme_gives():
    ci = (ROOT / ".ci" / "run").read_text()

    assert "./scripts/test     # the gate CI runs" in README
    assert ci.rstrip().splitlines()[-1] == "./scripts/test"
