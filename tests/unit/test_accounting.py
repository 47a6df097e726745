"""Where the CPU went, from the kernel's records of exited processes: each record put
under its kind, and the kinds summing to what the kernel charged the tree."""

import os
import sys

import pytest

from blueprint_harness.process import accounting
from blueprint_harness.process.accounting import Exited, by_kind, command_kind
from blueprint_harness.process.cpu import FLOW_RUNS
from blueprint_harness.process.tree_usage import run_measured

pytestmark = pytest.mark.unit

ROOT, SERVER, WORKER = 100, 101, 102
TREE = [
    Exited(ROOT, 1, "python3", 10.0),
    Exited(SERVER, ROOT, "prefect", 5.0),
    Exited(201, SERVER, "python3", 0.5),  # the server's own child
    Exited(WORKER, ROOT, "prefect", 1.0),
    Exited(301, WORKER, "python3", 3.0),  # a flow run
    Exited(302, WORKER, "python3", 4.0),  # another
    Exited(401, ROOT, "prefect", 2.0),  # a CLI command
    Exited(501, ROOT, "node-MainThread", 1.5),  # renamed as it ran
    Exited(502, 501, "chromium", 6.0),
    Exited(601, ROOT, "sqlite3", 0.25),  # nothing names it
    Exited(900, 1, "bash", 99.0),  # another tree
]
NAMED = {ROOT: "pytest", SERVER: "API server", WORKER: "workers", 401: "CLI: prefect deploy"}


def test_each_process_is_counted_once_under_its_kind():
    kinds = by_kind(TREE, {ROOT}, NAMED)

    assert kinds == {
        "pytest": 10.0,
        FLOW_RUNS: 7.0,
        "Chromium": 6.0,
        "API server": 5.5,
        "CLI: prefect deploy": 2.0,
        "Playwright's driver": 1.5,
        "workers": 1.0,
        "sqlite3 (under pytest)": 0.25,
    }
    assert sum(kinds.values()) == sum(r.cpu_seconds for r in TREE if r.pid != 900)


@pytest.mark.parametrize(
    ("args", "kind"),
    [
        (
            ("/v/bin/prefect", "deployment", "run", "Flow/dep", "--param", "x=1"),
            "CLI: prefect deployment run",
        ),
        (("/v/bin/prefect", "deploy", "--name", "production-etl"), "CLI: prefect deploy"),
        (("/v/bin/python", "flows/data_pipeline.py"), "CLI: python flows/data_pipeline.py"),
    ],
)
def test_a_command_is_named_by_its_program_and_words(args, kind):
    assert command_kind(args) == kind


@pytest.mark.skipif(os.geteuid() != 0, reason="process accounting needs root (CAP_SYS_PACCT)")
@pytest.mark.skipif(
    accounting.LABELS_VARIABLE in os.environ,
    reason="the session is accounted already (--prefect-cpu-accounting): one file at a time",
)
def test_the_kinds_sum_to_what_the_kernel_charged_a_real_tree(tmp_path):
    burn = "import time; end = time.process_time() + 0.4\nwhile time.process_time() < end: pass"
    spawn = f"import subprocess, sys; subprocess.run([sys.executable, '-c', {burn!r}]); {burn}"

    with accounting.kernel_accounting(tmp_path / "acct") as records:
        usage = run_measured([sys.executable, "-c", spawn], tmp_path)
    kinds = by_kind(accounting.records(records), {usage.pid}, {usage.pid: "parent"})

    assert usage.cpu >= 0.8, usage
    assert set(kinds) == {"parent", f"{os.path.basename(sys.executable)[:15]} (under parent)"}
    assert sum(kinds.values()) == pytest.approx(usage.cpu, abs=0.05), kinds


def test_the_account_says_what_it_could_not_place():
    account = accounting.CpuAccount({"pytest": 6.0, FLOW_RUNS: 3.0, "idle": 0.0}, 10.0)

    assert account.lines() == [
        "CPU by kind of process: 9.0s accounted, the kernel's total 10.0s (+10.0% not accounted)",
        "   6.0s  pytest",
        "   3.0s  flow-run processes",
    ]
