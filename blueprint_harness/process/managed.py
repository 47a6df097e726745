"""Managed processes under pytest-xprocess, each as one context manager that always cleans up.

Nothing here knows pytest: an `XProcess` instance is passed in (the `xprocess` fixture's
in a test session, a plain one elsewhere), so the same lifecycle can bring a stack up
outside pytest. The guarantees: a fresh start (restart=True), the environment given
whole (it is built merged, see environment.py), an explicit cwd, Ctrl-C cleanup, a fast
failure with the log tail when the child dies during start-up, and on the way out,
whatever happened, termination of the whole process tree and of any descendant it
orphaned earlier (see janitor.py).
"""

from __future__ import annotations

import contextlib
import shutil
import signal
import subprocess
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

import psutil

from blueprint_harness.process import janitor
from blueprint_harness.process import xprocess_adapter as xprocess_lib
from blueprint_harness.process.diagnostics import tail
from blueprint_harness.process.xprocess_adapter import XProcess

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
class ProcessSpec:
    """Everything needed to start one managed process and know it is ready."""

    name: str
    label: str
    args: tuple[str, ...]
    env: Mapping[str, str]
    cwd: Path
    log_path: Path
    startup_timeout: float
    ready: Readiness
    log_tail: int = 40
    # None: SIGTERM to the whole tree, leaves first (a worker's flow runs before it).
    # A signal: sent to the process alone, which stops its own children in its own way
    # (PostgreSQL's fast shutdown is SIGINT; a uvicorn supervisor would restart workers
    # killed under it); the tree is terminated after that only if something is left.
    stop_signal: signal.Signals | None = None

    def died_message(self, pid: int | None, returncode: int | None, when: str) -> str:
        return (
            f"{self.label} (pid {pid}) exited with code {returncode} {when}.\n"
            f"Command: {' '.join(self.args)}\n"
            f"Last {self.log_tail} lines of {self.log_path}:\n{tail(self.log_path, self.log_tail)}"
        )


class ManagedProcess:
    """A managed process: start (again), liveness, signals, its log, and stopping it."""

    def __init__(self, xprocess: XProcess, spec: ProcessSpec) -> None:
        self.xprocess = xprocess
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
    def control_dir(self) -> Path:
        return xprocess_lib.control_dir(self.xprocess, self.spec.name)

    def _launch(self) -> xprocess_lib.Launch:
        spec = self.spec
        return xprocess_lib.Launch(
            name=spec.name,
            args=spec.args,
            # Inherited by its descendants: whose process it is, and whose session.
            env={**spec.env, janitor.MARKER: spec.name, janitor.OWNER: janitor.owner_tag()},
            cwd=spec.cwd,
            timeout=spec.startup_timeout,
            startup_check=self._startup_check,
        )

    def _startup_check(self) -> bool:
        # xprocess would wait out the whole timeout for a child that already died.
        popen = xprocess_lib.popen(self.xprocess, self.spec.name)
        if popen is not None and popen.poll() is not None:
            raise ProcessDied(
                self.spec.died_message(popen.pid, popen.returncode, "during start-up")
            )
        return self.spec.ready()

    def start(self) -> None:
        """Start the process (again) and wait until it is ready, or raise with its log."""
        first_start = self.popen is None
        if first_start:
            self._link_log()
        self.stopping = False
        self.spec.ready.starting()
        began = time.monotonic()
        try:
            # A restart appends to the same log.
            xprocess_lib.ensure(self.xprocess, self._launch(), persist_logs=not first_start)
        except TimeoutError:
            raise StartupTimeout(
                f"{self.label} did not become ready within {self.spec.startup_timeout:g}s.\n"
                f"Expected: {self.spec.ready.expected}\nLast seen: {self.spec.ready.last_seen}\n"
                f"Last {self.spec.log_tail} lines of {self.log_path}:\n"
                f"{tail(self.log_path, self.spec.log_tail)}"
            ) from None
        finally:
            self.popen = xprocess_lib.popen(self.xprocess, self.spec.name) or self.popen
        self.startup_seconds = time.monotonic() - began

    def _link_log(self) -> None:
        # The log lives with the session's other logs; xprocess writes through this link.
        self.control_dir.mkdir(parents=True, exist_ok=True)
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        self.log_path.touch()
        link = self.control_dir / "xprocess.log"
        link.unlink(missing_ok=True)
        link.symlink_to(self.log_path)

    def is_running(self) -> bool:
        return self.popen is not None and self.popen.poll() is None

    def check_alive(self) -> None:
        """Raise `ProcessDied`, with the log tail, if the process exited unasked."""
        if not self.stopping and not self.is_running():
            returncode = self.popen.returncode if self.popen else None
            raise ProcessDied(
                self.spec.died_message(self.pid, returncode, "while tests still needed it")
            )

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
        xprocess_lib.terminate(self.xprocess, self.spec.name, timeout)
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
        leaves its flow runs), and remove xprocess's control folder."""
        self.stop()
        janitor.sweep(self.spec.name, TERMINATE_TIMEOUT_SECONDS)
        janitor.reap(self._orphaned)
        shutil.rmtree(self.control_dir, ignore_errors=True)


@contextmanager
def managed_process(xprocess: XProcess, spec: ProcessSpec) -> Iterator[ManagedProcess]:
    """Start `spec` under xprocess, yield it once ready, and always tear its tree down."""
    process = ManagedProcess(xprocess, spec)
    try:
        process.start()
        yield process
    finally:
        process.clean_up()
