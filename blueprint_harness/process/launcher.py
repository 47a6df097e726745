"""How a managed process is launched and stopped, behind one interface.

`Launcher` is all the lifecycle (managed.py) asks of whatever starts its children.
`PopenLauncher` is the core's own (`blueprint up`, the benchmarks: nothing of pytest);
the pytest layer gives pytest-xprocess's (fixtures/processes.py), whose interrupt
clean-up then also covers the session's children.
"""

from __future__ import annotations

import contextlib
import subprocess
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

from blueprint_harness.process import janitor
from blueprint_harness.process.waiting import poll_until

STARTUP_POLL_SECONDS = 0.1


@dataclass(frozen=True)
class Launch:
    """One process to start: its command, environment (whole), folder, log, and how to
    know it is ready (within `timeout` seconds)."""

    name: str
    args: tuple[str, ...]
    env: Mapping[str, str]
    cwd: Path
    log_path: Path
    timeout: float
    startup_check: Callable[[], bool]


class Launcher(Protocol):
    """Starts named children in process groups of their own and stops their trees."""

    def start(self, launch: Launch, *, append_log: bool) -> None:
        """Start `launch` afresh (never reusing a process of that name), its output to
        its log, and wait until its start-up check is true; `TimeoutError` past its
        timeout. An exception from the check ends the wait at once."""
        ...

    def popen(self, name: str) -> subprocess.Popen[bytes] | None:
        """The child last started as `name` (None before any start)."""
        ...

    def terminate(self, name: str, timeout: float) -> None:
        """SIGTERM `name`'s whole tree, leaves first; SIGKILL what is left past
        `timeout`."""
        ...

    def forget(self, name: str) -> None:
        """Drop what the launcher kept of `name` once it is stopped for good."""
        ...


class PopenLauncher:
    """The core's launcher: `subprocess.Popen`, a process group per child."""

    def __init__(self) -> None:
        self._popens: dict[str, subprocess.Popen[bytes]] = {}

    def start(self, launch: Launch, *, append_log: bool) -> None:
        self.terminate(launch.name, timeout=10)
        launch.log_path.parent.mkdir(parents=True, exist_ok=True)
        with launch.log_path.open("ab" if append_log else "wb", buffering=0) as log:
            self._popens[launch.name] = subprocess.Popen(
                list(launch.args),
                env=dict(launch.env),
                cwd=launch.cwd,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                close_fds=True,
                process_group=0,  # a Ctrl-C to the terminal's group is the harness's to handle
            )
        if not poll_until(launch.startup_check, launch.timeout, STARTUP_POLL_SECONDS):
            raise TimeoutError(f"{launch.name} was not ready within {launch.timeout:g}s")

    def popen(self, name: str) -> subprocess.Popen[bytes] | None:
        return self._popens.get(name)

    def terminate(self, name: str, timeout: float) -> None:
        popen = self._popens.get(name)
        if popen is None or popen.poll() is not None:
            return
        # The descendants through psutil, the child through its Popen (which keeps its
        # exit status for whoever asks why it ended).
        janitor.stop(janitor.descendants(popen.pid), timeout)
        popen.terminate()
        try:
            popen.wait(timeout)
        except subprocess.TimeoutExpired:
            popen.kill()
            with contextlib.suppress(subprocess.TimeoutExpired):
                popen.wait(timeout)

    def forget(self, name: str) -> None:
        self._popens.pop(name, None)
