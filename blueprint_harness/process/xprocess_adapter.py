"""pytest-xprocess behind one module: the only place that knows its classes and internals.

xprocess starts a child, waits for its start-up check, keeps its pid and log in a control
folder, and terminates its tree. What it does not offer publicly (the `Popen` it made, the
report section it adds for each log, a use outside pytest) is reached here and nowhere
else, so an xprocess upgrade touches one file.
"""

from __future__ import annotations

import subprocess
import types
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import py
from xprocess import ProcessStarter, XProcess

__all__ = ["Launch", "XProcess", "control_dir", "ensure", "for_pytest", "popen", "standalone"]


@dataclass(frozen=True)
class Launch:
    """What xprocess needs to start one process and know it is ready."""

    name: str
    args: tuple[str, ...]
    env: Mapping[str, str]
    cwd: Path
    timeout: float
    startup_check: Callable[[], bool]


class _Starter(ProcessStarter):  # type: ignore[misc]  # xprocess ships no type information
    terminate_on_interrupt = True

    def __init__(self, control_dir: Any, process: XProcess, *, launch: Launch) -> None:
        super().__init__(control_dir, process)
        self.launch = launch
        self.timeout = launch.timeout
        self.env = dict(launch.env)
        self.popen_kwargs = {"cwd": str(launch.cwd)}

    @property
    def args(self) -> tuple[str, ...]:
        return self.launch.args

    def startup_check(self) -> bool:
        return self.launch.startup_check()


def ensure(xprocess: XProcess, launch: Launch, *, persist_logs: bool) -> None:
    """Start `launch` afresh (never reuse an earlier process of that name) and wait for
    its start-up check; `TimeoutError` past its timeout. xprocess's report section for
    the log is dropped: the harness adds tails, not whole logs."""

    def starter(control_dir: Any, process: XProcess) -> _Starter:
        return _Starter(control_dir, process, launch=launch)

    try:
        xprocess.ensure(launch.name, starter, restart=True, persist_logs=persist_logs)
    finally:
        getattr(xprocess.config, "_extlogfiles", {}).pop(launch.name, None)


def popen(xprocess: XProcess, name: str) -> subprocess.Popen[bytes] | None:
    """The `Popen` xprocess made for `name` (found by the pid it recorded)."""
    pid = xprocess.getinfo(name).pid
    for resource in reversed(xprocess.resources):
        found: subprocess.Popen[bytes] | None = resource.popen
        if found is not None and found.pid == pid:
            return found
    return None


def terminate(xprocess: XProcess, name: str, timeout: float) -> None:
    """Terminate `name`'s whole tree (SIGTERM, SIGKILL past `timeout`)."""
    xprocess.getinfo(name).terminate(timeout=timeout)


def control_dir(xprocess: XProcess, name: str) -> Path:
    return Path(str(xprocess.rootdir)) / name


class _Quiet:
    """xprocess's own log, silenced outside pytest."""

    def debug(self, message: str, *args: object) -> None:
        pass


def standalone(folder: Path) -> XProcess:
    """An `XProcess` outside pytest (`blueprint up`, the benchmarks)."""
    return XProcess(types.SimpleNamespace(), py.path.local(folder), log=_Quiet())


@contextmanager
def for_pytest(config: Any, folder: Path) -> Iterator[XProcess]:
    """pytest-xprocess's session object, with its control folder in `folder` (so it also
    works without pytest's cache provider), cleaned up by its own unconfigure hook."""
    with XProcess(config, py.path.local(folder)) as xprocess:
        config._xprocess = xprocess  # what xprocess's pytest_unconfigure reads
        yield xprocess
