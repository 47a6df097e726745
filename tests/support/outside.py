"""pytest runs of the harness (inner runs) and `blueprint up`, each in a subprocess and
observed from outside.

Some promises only an outsider can check: that after a passing, failing, interrupted or
timed-out pytest run nothing of it is left running and its port is free, or that a run
never reads or writes the user's home. Every inner run keeps its logs under the scratch
folder it is given, so its processes are recognisable: their PREFECT_HOME lies inside
that folder.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import psutil

from blueprint_harness.cache import CACHE_VARIABLE, cache_root
from blueprint_harness.process import janitor
from blueprint_harness.process.janitor import OWNER, processes_where
from blueprint_harness.process.ports import LOOPBACK
from blueprint_harness.process.waiting import wait_for
from blueprint_harness.process.watchdog import WATCHDOG
from blueprint_harness.stack.sandbox import venv_bin

PROJECT_ROOT = Path(__file__).resolve().parents[2]
READY_FILE_VARIABLE = "INNER_READY_FILE"
OUTCOME = re.compile(r"(\d+) (passed|failed|skipped|errors?|deselected|xfailed|xpassed)")
# A whole inner run of the phases, its own waits bounded within it, takes 60-180 s; under
# pytest-xdist on two cores beside the teardown group's four inner runs it took over 300 s.
INNER_TIMEOUT_SECONDS = 600
# A killed session's watchdog stops its processes: SIGTERM, then SIGKILL after 10 s.
WATCHDOG_BOUND_SECONDS = 30

# Inner sessions still running (from any thread), so an interrupted outer session can
# stop them instead of waiting for them.
_running: dict[subprocess.Popen[str], Path] = {}
_running_lock = threading.Lock()

# The pytest.ini of an inner session whose test file is written by the caller.
INNER_INI = """\
[pytest]
addopts = -p no:randomly
timeout = 600
timeout_method = signal
timeout_func_only = true
"""


@dataclass(frozen=True)
class InnerPytest:
    """What an inner pytest session did, and what it left."""

    scratch: Path
    returncode: int
    output: str
    alive_at_signal: tuple[str, ...] = ()  # what ran when the signal was sent

    @property
    def log_dir(self) -> Path:
        return self.scratch / "logs"

    def cards(self) -> list[dict[str, Any]]:
        """The session.json of every stack the inner session started."""
        return [json.loads(p.read_text()) for p in sorted(self.log_dir.glob("*/session.json"))]

    def describe(self) -> str:
        return f"inner pytest exited {self.returncode}:\n{self.output[-4000:]}"

    def outcomes(self) -> dict[str, int]:
        """pytest's closing counts (passed, failed, skipped, ...), from its last line."""
        summary = next((line for line in reversed(self.output.splitlines()) if " in " in line), "")
        return {word: int(n) for n, word in OUTCOME.findall(summary)}

    def wait_until_nothing_is_left(self, timeout: float) -> None:
        """Wait (a killed session's watchdog works after it is gone) until none of the
        session's processes runs."""
        wait_for(
            lambda: describe_processes(processes_under(self.scratch)),
            lambda alive: not alive,
            timeout=timeout,
            expected=f"no process of the inner session under {self.scratch}",
            describe=lambda alive: f"still running: {alive}",
        )


def processes_under(scratch: Path) -> list[psutil.Process]:
    """Live processes whose PREFECT_HOME lies in `scratch`: an inner session's children."""
    return processes_where(lambda env: env.get("PREFECT_HOME", "").startswith(str(scratch)))


def describe_processes(processes: Sequence[psutil.Process]) -> tuple[str, ...]:
    described = []
    for process in processes:
        with contextlib.suppress(psutil.Error):
            described.append(f"{process.pid} {' '.join(process.cmdline()[1:5])}")
    return tuple(described)


def port_is_free(port: int) -> bool:
    """Nobody listens on the port and a new server could bind it (SO_REUSEADDR)."""
    with socket.socket() as probe:
        if probe.connect_ex((LOOPBACK, port)) == 0:
            return False
    with socket.socket() as server:
        server.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            server.bind((LOOPBACK, port))
        except OSError:
            return False
    return True


def write_inner_project(scratch: Path, test_source: str) -> list[str]:
    """An inner pytest.ini and test file; returns the arguments that select them."""
    scratch.mkdir(parents=True, exist_ok=True)
    (scratch / "pytest.ini").write_text(INNER_INI)
    (scratch / "test_inner.py").write_text(test_source)
    return [
        "-c",
        str(scratch / "pytest.ini"),
        "--rootdir",
        str(scratch),
        str(scratch / "test_inner.py"),
    ]


Ending = Callable[[subprocess.Popen[str]], None]


def send(sig: signal.Signals, *, whole_group: bool = False) -> Ending:
    """End a session with `sig`, sent to it alone or, as a terminal sends Ctrl-C or its
    hang-up, to its whole process group."""

    def ending(process: subprocess.Popen[str]) -> None:
        if whole_group:
            os.killpg(process.pid, sig)
        else:
            process.send_signal(sig)

    return ending


def watchdogs_of(pid: int) -> list[psutil.Process]:
    """The watchdog a session with this pid started."""
    return processes_where(lambda env: env.get(WATCHDOG, "").startswith(f"{pid}-"))


def kill_with_its_watchdog(process: subprocess.Popen[str]) -> None:
    """SIGKILL a session and its watchdog at once: nothing of it can clean up."""
    for dog in watchdogs_of(process.pid):
        dog.kill()
    process.kill()


def run_inner_pytest(
    scratch: Path,
    args: Sequence[str],
    *,
    env: Mapping[str, str] | None = None,
    cwd: Path = PROJECT_ROOT,
    ending: Ending | None = None,
    log_dir: Path | None = None,
    timeout: float = INNER_TIMEOUT_SECONDS,
) -> InnerPytest:
    """Run `python -m pytest <args>` with its logs in `scratch` (or `log_dir`); optionally
    end it with `ending` once its test touches the ready file."""
    ready = scratch / "ready"
    command = [
        sys.executable,
        "-m",
        "pytest",
        f"--prefect-project-dir={PROJECT_ROOT}",
        f"--prefect-log-dir={log_dir or scratch / 'logs'}",
        *args,
    ]
    child_env = {
        # The outer session's cache (a fake HOME would build its templates anew).
        CACHE_VARIABLE: str(cache_root()),
        **(env if env is not None else os.environ),
        READY_FILE_VARIABLE: str(ready),
        "PYTHONPATH": str(PROJECT_ROOT),
    }
    alive: tuple[str, ...] = ()
    with subprocess.Popen(
        command,
        cwd=cwd,
        env=child_env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,
    ) as process:
        with _running_lock:
            _running[process] = scratch
        try:
            if ending is not None:
                wait_for(
                    lambda: ready.exists() or process.poll() is not None,
                    bool,
                    timeout=timeout,
                    expected=f"the inner session to touch {ready}",
                    interval=0.2,
                )
                alive = describe_processes(processes_under(scratch))
                ending(process)
            output, _ = process.communicate(timeout=timeout)
        except BaseException:
            _stop(process, scratch)
            raise
        finally:
            with _running_lock:
                _running.pop(process, None)
    return InnerPytest(scratch, process.returncode, output, alive)


# Each inner session runs a server, a worker and flow runs: more at once than this only
# queue on two cores until their start-up bounds run out.
MAX_AT_ONCE = 4


def side_by_side(
    sessions: Mapping[str, Callable[[], InnerPytest]], at_once: int = MAX_AT_ONCE
) -> dict[str, InnerPytest]:
    """Run inner sessions at the same time (`at_once` at a time); if this one is
    interrupted meanwhile, stop them all (each tears itself down) rather than wait."""
    with ThreadPoolExecutor(max_workers=min(at_once, len(sessions))) as pool:
        futures = {name: pool.submit(run) for name, run in sessions.items()}
        try:
            return {name: future.result() for name, future in futures.items()}
        except BaseException:
            _stop_running()
            raise


STOP_GRACE_SECONDS = 60


def _stop(process: subprocess.Popen[str], scratch: Path) -> None:
    """Stop an inner session that overran, from the thread reading its output (so it
    keeps draining the pipes while it waits)."""
    _terminate([(process, scratch)], lambda p, timeout: p.communicate(timeout=timeout))


def _stop_running() -> None:
    """Stop every running inner session at once while other threads read their output."""
    with _running_lock:
        running = list(_running.items())
    _terminate(running, lambda p, timeout: p.wait(timeout=timeout))


def _terminate(
    sessions: Sequence[tuple[subprocess.Popen[str], Path]],
    wait: Callable[[subprocess.Popen[str], float | None], object],
) -> None:
    """Politely (SIGTERM to all: each session's teardown runs), then for sure (SIGKILL to
    the process group of any still running after the grace period), then whatever the
    sessions left behind."""
    for process, _ in sessions:
        with contextlib.suppress(ProcessLookupError):
            process.send_signal(signal.SIGTERM)
    deadline = time.monotonic() + STOP_GRACE_SECONDS
    for process, scratch in sessions:
        try:
            wait(process, max(0.0, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(process.pid, signal.SIGKILL)
            wait(process, None)
        _kill_leftovers(scratch)


def _kill_leftovers(scratch: Path) -> None:
    leftovers = processes_under(scratch)
    for leftover in leftovers:
        with contextlib.suppress(psutil.Error):
            leftover.kill()
    psutil.wait_procs(leftovers, timeout=10)


BLUEPRINT_UP_READY = re.compile(r"ready in ([0-9.]+)s")
API_LINE = re.compile(r"^\s*API:\s+(\S+)", re.MULTILINE)


def _ignore_sigint() -> None:
    signal.signal(signal.SIGINT, signal.SIG_IGN)


def blueprint_command() -> str:
    """The `blueprint` command under test: $BLUEPRINT_COMMAND (a plain install's, say),
    else this venv's."""
    return os.environ.get("BLUEPRINT_COMMAND") or str(venv_bin() / "blueprint")


class BlueprintUp:
    """`blueprint up`, started as a person starts it in a terminal (or, with
    `in_background`, as a script's background job, which inherits SIGINT ignored), and
    read from outside."""

    def __init__(self, scratch: Path, env: Mapping[str, str], *, in_background: bool) -> None:
        self.scratch = scratch
        self.process = subprocess.Popen(
            [blueprint_command(), "up"],
            cwd=PROJECT_ROOT,
            env=dict(env),
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            start_new_session=True,  # its own terminal's process group
            preexec_fn=_ignore_sigint if in_background else None,
        )
        self._lines: list[str] = []
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()
        with _running_lock:
            _running[self.process] = scratch

    def _read(self) -> None:
        assert self.process.stdout is not None
        for line in self.process.stdout:
            self._lines.append(line)

    @property
    def output(self) -> str:
        return "".join(self._lines)

    def wait_ready(self, timeout: float) -> tuple[str, float]:
        """(its API URL, the start-to-ready seconds it printed), once it says it is up."""
        ready = wait_for(
            lambda: BLUEPRINT_UP_READY.search(self.output),
            lambda found: found is not None or self.process.poll() is not None,
            timeout=timeout,
            expected="`blueprint up` to print that it is ready",
            describe=lambda _: self.output[-2000:],
        )
        assert ready is not None, f"blueprint up exited {self.process.returncode}:\n{self.output}"
        api = API_LINE.search(self.output)
        assert api is not None, self.output
        return api.group(1), float(ready.group(1))

    def processes(self) -> list[psutil.Process]:
        """What it started (its children carry its owner tag)."""
        owner = f"{self.process.pid}-"
        return processes_where(lambda env: env.get(OWNER, "").startswith(owner))

    def interrupt(self, timeout: float) -> int:
        """Ctrl-C, as a terminal sends it (to the whole process group); its exit code."""
        os.killpg(self.process.pid, signal.SIGINT)
        returncode = self.process.wait(timeout=timeout)
        self._reader.join(timeout=10)
        return returncode

    def close(self) -> None:
        """However the test went, nothing of it may outlive it."""
        with _running_lock:
            _running.pop(self.process, None)
        if self.process.poll() is None:
            _terminate([(self.process, self.scratch)], lambda p, t: p.wait(timeout=t))
        janitor.stop(self.processes(), 10)
