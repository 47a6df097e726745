"""The managed-process lifecycle, on tiny stand-in processes (no Prefect needed)."""

import os
import sys
import time
from dataclasses import replace
from pathlib import Path

import psutil
import pytest

from blueprint_harness.process.launcher import PopenLauncher
from blueprint_harness.process.managed import (
    ProcessDied,
    ProcessHost,
    ProcessSpec,
    StartupTimeout,
    managed_process,
)

pytestmark = pytest.mark.unit

# Touches its flag file (ready), starts a grandchild, then sleeps.
SLEEPER = (
    "import pathlib, subprocess, sys, time;"
    "subprocess.Popen([sys.executable, '-c', 'import time; time.sleep(600)']);"
    "print('child up', flush=True); pathlib.Path(sys.argv[1]).touch(); time.sleep(600)"
)


class FileExists:
    def __init__(self, path: Path) -> None:
        self.path = path
        self.expected = f"{path} to exist"
        self.last_seen = "not yet"

    def starting(self) -> None:
        pass

    def __call__(self) -> bool:
        return self.path.exists()


def sleeping(process: psutil.Process) -> bool:
    try:
        return "time.sleep(600)" in " ".join(process.cmdline())
    except psutil.Error:  # gone, or a zombie
        return False


def spec(tmp_path, code, *, name="stand-in"):
    flag = tmp_path / "ready.flag"
    return ProcessSpec(
        name=f"{name}-{os.getpid()}",
        label="stand-in",
        args=(sys.executable, "-c", code, str(flag)),
        env=dict(os.environ),
        cwd=tmp_path,
        log_path=tmp_path / "logs" / "stand-in.log",
        ready=FileExists(flag),
    )


@pytest.fixture(params=["core", "pytest-xprocess"])
def host(request):
    """The same lifecycle on both launchers: the core's own (blueprint up, the benchmarks)
    and pytest-xprocess's (the fixtures)."""
    if request.param == "core":
        return ProcessHost(PopenLauncher(), startup_timeout=30.0, log_tail=5)
    session = request.getfixturevalue("harness_processes")
    return replace(session, startup_timeout=30.0, log_tail=5)


def test_a_ready_process_is_yielded_and_its_whole_tree_is_gone_after(host, tmp_path):
    with managed_process(host, spec(tmp_path, SLEEPER)) as process:
        tree = [psutil.Process(process.pid), *process.children()]
        assert process.is_running()
        assert len(tree) == 2
        process.check_alive()

    assert not any(p.is_running() and p.status() != psutil.STATUS_ZOMBIE for p in tree)
    assert "child up" in (tmp_path / "logs" / "stand-in.log").read_text()


def test_a_child_dying_during_start_up_fails_fast_with_its_log(host, tmp_path):
    started = time.monotonic()
    with (
        pytest.raises(ProcessDied, match=r"exited with code 3 during start-up") as error,
        managed_process(host, spec(tmp_path, "print('bad config'); raise SystemExit(3)")),
    ):
        pass

    assert time.monotonic() - started < 10
    assert "bad config" in str(error.value)


def test_a_child_never_ready_times_out_and_is_stopped(host, tmp_path):
    never_ready = SLEEPER.replace("pathlib.Path(sys.argv[1]).touch();", "")
    with (
        pytest.raises(StartupTimeout, match=r"did not become ready within 2s") as error,
        managed_process(replace(host, startup_timeout=2), spec(tmp_path, never_ready)),
    ):
        pass

    assert "Expected: " in str(error.value)
    assert "child up" in str(error.value)
    assert [p for p in psutil.Process().children(recursive=True) if sleeping(p)] == []


def test_a_killed_process_is_reported_and_its_orphans_are_stopped(host, tmp_path):
    with managed_process(host, spec(tmp_path, SLEEPER)) as process:
        orphans = process.children()
        psutil.Process(process.pid).kill()
        process.popen.wait(timeout=10)

        with pytest.raises(ProcessDied, match=r"exited with code -9 while tests still needed it"):
            process.check_alive()
        assert all(orphan.is_running() for orphan in orphans)

    assert not any(p.is_running() and p.status() != psutil.STATUS_ZOMBIE for p in orphans)
