"""Managed processes, each as one context manager that always cleans up.

Nothing here knows pytest: the session's `ProcessHost` carries the launcher (the core's
own outside pytest, pytest-xprocess's in a test session: launcher.py) and the bounds every
process shares. The guarantees: a fresh start, the environment given whole (built
merged, see sandbox.py), an explicit cwd, a fast failure with the log tail when the
child dies during start-up, and on the way out, whatever happened, termination of the
whole process tree and of any descendant it orphaned earlier (see janitor.py).
"""

from __future__ import annotations

import contextlib
import signal
import subprocess
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

import psutil

from blueprint_harness.process import accounting, cpu, janitor
from blueprint_harness.process.diagnostics import tail
from blueprint_harness.process.launcher import Launch, Launcher

TERMINATE_TIMEOUT_SECONDS = 10


class ProcessDied(RuntimeError):
    """A managed process exited while the harness still needed it."""


class StartupTimeout(RuntimeError):
    """A managed process did not become ready in time."""


class Readiness(Protocol):
    """A readiness probe: says what it waits for and what it saw last."""

    expected: str
    last_seen: str

    def starting(self) -> None:
        """Called before each (re)start: forget what an earlier start showed."""
        ...

    def __call__(self) -> bool: ...


@dataclass(frozen=True)
class ProcessHost:
    """What a session's managed processes share: the launcher that starts them, how long
    a start may take, and how many log lines a failure shows."""

    launcher: Launcher
    startup_timeout: float = 120.0
    log_tail: int = 40


@dataclass(frozen=True)
class ProcessSpec:
    """Everything needed to start one managed process and know it is ready."""

    name: str
    label: str
    args: tuple[str, ...]
    env: Mapping[str, str]
    cwd: Path
    log_path: Path
    ready: Readiness
    # None: SIGTERM to the whole tree, leaves first (a worker's flow runs before it).
    # A signal: sent to the process alone, which stops its own children in its own way
    # (PostgreSQL's fast shutdown is SIGINT; a uvicorn supervisor would restart workers
    # killed under it); the tree is terminated after that only if something is left.
    stop_signal: signal.Signals | None = None


class ManagedProcess:
    """A managed process: start (again), liveness, signals, its log, and stopping it."""

    def __init__(self, host: ProcessHost, spec: ProcessSpec) -> None:
        self.host = host
        self.spec = spec
        self.popen: subprocess.Popen[bytes] | None = None
        self.startup_seconds = 0.0  # from process start to ready, last start
        self.stopping = False
        self._orphaned: set[int] = set()  # descendants of a start that was killed

    @property
    def pid(self) -> int:
        assert self.popen is not None, f"{self.label} was never started"
        return self.popen.pid

    @property
    def label(self) -> str:
        return self.spec.label

    @property
    def log_path(self) -> Path:
        return self.spec.log_path

    @property
    def launcher(self) -> Launcher:
        return self.host.launcher

    def log_tail(self) -> str:
        lines = self.host.log_tail
        return f"Last {lines} lines of {self.log_path}:\n{tail(self.log_path, lines)}"

    def _died(self, pid: int | None, returncode: int | None, when: str) -> ProcessDied:
        return ProcessDied(
            f"{self.label} (pid {pid}) exited with code {returncode} {when}.\n"
            f"Command: {' '.join(self.spec.args)}\n{self.log_tail()}"
        )

    def _launch(self) -> Launch:
        spec = self.spec
        return Launch(
            name=spec.name,
            args=spec.args,
            # Inherited by its descendants: whose process it is, and whose session.
            env={**spec.env, janitor.MARKER: spec.name, janitor.OWNER: janitor.owner_tag()},
            cwd=spec.cwd,
            log_path=spec.log_path,
            timeout=self.host.startup_timeout,
            startup_check=self._startup_check,
        )

    def _startup_check(self) -> bool:
        # Never wait out the whole timeout for a child that already died.
        popen = self.launcher.popen(self.spec.name)
        if popen is not None and popen.poll() is not None:
            raise self._died(popen.pid, popen.returncode, "during start-up")
        return self.spec.ready()

    def start(self) -> None:
        """Start the process (again) and wait until it is ready, or raise with its log."""
        first_start = self.popen is None
        self.stopping = False
        self.spec.ready.starting()
        began = time.monotonic()
        try:
            # A restart appends to the same log.
            self.launcher.start(self._launch(), append_log=not first_start)
        except TimeoutError:
            raise StartupTimeout(
                f"{self.label} did not become ready within {self.host.startup_timeout:g}s.\n"
                f"Expected: {self.spec.ready.expected}\nLast seen: {self.spec.ready.last_seen}\n"
                f"{self.log_tail()}"
            ) from None
        finally:
            self.popen = self.launcher.popen(self.spec.name) or self.popen
            if self.popen is not None:
                accounting.label(self.popen.pid, cpu.managed_role(self.spec.name) or self.label)
        self.startup_seconds = time.monotonic() - began

    def is_running(self) -> bool:
        return self.popen is not None and self.popen.poll() is None

    def check_alive(self) -> None:
        """Raise `ProcessDied`, with the log tail, if the process exited unasked."""
        if not self.stopping and not self.is_running():
            returncode = self.popen.returncode if self.popen else None
            raise self._died(self.pid, returncode, "while tests still needed it")

    def send_signal(self, sig: signal.Signals) -> None:
        """Send `sig` to the process itself (fault injection); it is then expected to end."""
        self.stopping = True
        self._orphaned.update(child.pid for child in self.children())
        if self.popen is not None:
            self.popen.send_signal(sig)

    def stop(self, timeout: float = TERMINATE_TIMEOUT_SECONDS) -> None:
        """Stop the process (its `stop_signal`, or SIGTERM to the whole tree, leaves
        first), SIGKILL past `timeout`; idempotent."""
        self.stopping = True
        if self.spec.stop_signal is not None and self.is_running():
            assert self.popen is not None
            self.popen.send_signal(self.spec.stop_signal)
            with contextlib.suppress(subprocess.TimeoutExpired):
                self.popen.wait(timeout=timeout)
        self.launcher.terminate(self.spec.name, timeout)
        if self.popen is not None:
            self.popen.wait(timeout=timeout)

    def children(self) -> list[psutil.Process]:
        """Live descendants (a worker's flow-run processes)."""
        try:
            return psutil.Process(self.pid).children(recursive=True)
        except psutil.NoSuchProcess:
            return []

    def clean_up(self) -> None:
        """Stop the tree, then whatever it orphaned earlier (a worker killed mid-run
        leaves its flow runs), and let the launcher forget it."""
        self.stop()
        janitor.sweep(self.spec.name, TERMINATE_TIMEOUT_SECONDS)
        janitor.reap(self._orphaned)
        self.launcher.forget(self.spec.name)


@contextmanager
def managed_process(host: ProcessHost, spec: ProcessSpec) -> Iterator[ManagedProcess]:
    """Start `spec` on `host`, yield it once ready, and always tear its tree down."""
    process = ManagedProcess(host, spec)
    try:
        process.start()
        yield process
    finally:
        process.clean_up()
