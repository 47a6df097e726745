"""The control plane: `prefect server start` (and, services apart, `prefect server services
start`) as managed processes of the sandbox.

In the embedded shape one process serves the API and UI and runs the background services
(scheduler, late runs, the task-run recorder, ...). In the production shape the API runs
in several processes behind one port (`--workers N`, which implies `--no-services`), and
the services run in a process of their own.
"""

from __future__ import annotations

import re
import signal
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from pathlib import Path

import psutil

from blueprint_harness.process.managed import (
    ManagedProcess,
    ProcessHost,
    ProcessSpec,
    managed_process,
)
from blueprint_harness.process.readiness import HttpReady, LogLineReady
from blueprint_harness.stack.sandbox import Sandbox

# The scheduler's first loop done: the services reached the database and the docket.
SERVICES_READY = re.compile(r"prefect\.server\.services\.scheduler - Scheduled \d+ runs")


def server_args(sandbox: Sandbox) -> tuple[str, ...]:
    """The guide's `prefect server start`, bound to the sandbox's loopback port (with
    `--workers N` for several API processes)."""
    args = (
        str(sandbox.bin_dir / "prefect"),
        "server",
        "start",
        "--host",
        sandbox.host,
        "--port",
        str(sandbox.port),
    )
    processes = sandbox.backend.api_processes
    return (*args, "--workers", str(processes)) if processes > 1 else args


def services_args(sandbox: Sandbox) -> tuple[str, ...]:
    """`prefect server services start`: every enabled background service, one process."""
    return (str(sandbox.bin_dir / "prefect"), "server", "services", "start")


@dataclass(frozen=True)
class PrefectServer:
    """A running control plane of this sandbox."""

    sandbox: Sandbox
    process: ManagedProcess  # `prefect server start`: the API (and, embedded, the services)
    services: ManagedProcess | None = None  # the services, when they run apart

    @property
    def api_url(self) -> str:
        return self.sandbox.api_url

    @property
    def ui_url(self) -> str:
        return self.sandbox.base_url

    @property
    def services_log_path(self) -> Path:
        """The log of the process that runs the background services (the scheduler's)."""
        return (self.services or self.process).log_path

    @property
    def processes(self) -> tuple[ManagedProcess, ...]:
        return (self.process, self.services) if self.services else (self.process,)

    def api_processes(self) -> list[psutil.Process]:
        """The processes that answer API requests: the server itself, or, with several,
        the ones its supervisor spawned (not its multiprocessing helpers)."""
        if self.sandbox.backend.api_processes == 1:
            return [psutil.Process(self.process.pid)]
        return [child for child in self.process.children() if _is_spawned_worker(child)]


def _is_spawned_worker(process: psutil.Process) -> bool:
    try:
        return "spawn_main" in " ".join(process.cmdline()) and process.status() != "zombie"
    except psutil.Error:
        return False


@contextmanager
def running_server(
    host: ProcessHost, sandbox: Sandbox, *, name: str = "prefect-server"
) -> Iterator[PrefectServer]:
    """Start the sandbox's control plane, yield it once `/api/ready` answers (and the
    services, if apart, have scheduled once), always stop it."""
    api = ProcessSpec(
        name=f"{name}-{sandbox.name}",
        label="prefect server",
        args=server_args(sandbox),
        env=sandbox.env(),
        cwd=sandbox.workdir,
        log_path=sandbox.logs / f"{name}.log",
        ready=HttpReady(f"{sandbox.api_url}/ready"),
        # Several API processes: their supervisor stops them (it would restart any
        # stopped under it).
        stop_signal=signal.SIGTERM if sandbox.backend.api_processes > 1 else None,
    )
    sandbox.database.prepare()
    with ExitStack() as processes:
        api_process = processes.enter_context(managed_process(host, api))
        services = None
        if sandbox.backend.services_apart:
            log_path = sandbox.logs / f"{name}-services.log"
            services = processes.enter_context(
                managed_process(
                    host,
                    ProcessSpec(
                        name=f"{name}-services-{sandbox.name}",
                        label="prefect server services",
                        args=services_args(sandbox),
                        env=sandbox.env(),
                        cwd=sandbox.workdir,
                        log_path=log_path,
                        ready=LogLineReady(log_path, SERVICES_READY, "the scheduler's first loop"),
                    ),
                )
            )
        yield PrefectServer(sandbox, api_process, services)
