"""One Prefect stack: the guide's Terminal B (a server) and the tools of Terminal A.

A stack runs on a server of our own (`own_stack`: a `Stack[PrefectServer]`) or on one
someone else runs (`external_stack`: a `Stack[ExternalServer]`); both are the same `Stack`
to every step, whose server handle and ledger differ and nothing else, so no step asks
which it has. Only what needs our own server's processes (a fault, its log, its database
file) asks for a `Stack[PrefectServer]`, by type. They are plain context managers: pytest
fixtures wrap them, and anything else (`blueprint up`, the benchmarks) can too.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Generic, Protocol, TypeGuard, TypeVar

from blueprint_harness.backends.warehouses import WAREHOUSE_VARIABLE, Warehouse
from blueprint_harness.config import HarnessConfig
from blueprint_harness.process.diagnostics import SessionMonitor
from blueprint_harness.process.managed import ProcessHost
from blueprint_harness.stack.api import ApiError, PrefectApi
from blueprint_harness.stack.cli import PrefectCli
from blueprint_harness.stack.external import (
    ExternalLedger,
    ExternalServer,
    Ledger,
    NoLedger,
    check_server,
    external_api,
)
from blueprint_harness.stack.runs import RunObserver
from blueprint_harness.stack.sandbox import Sandbox
from blueprint_harness.stack.server import PrefectServer, running_server
from blueprint_harness.stack.timings import SERVER_START, WORKER_START, Timings
from blueprint_harness.stack.worker import WorkerFleet, running_workers
from blueprint_harness.stack.zombies import install_zombie_detection


class ControlPlane(Protocol):
    """The server a stack talks to: ours (`PrefectServer`) or someone else's
    (`ExternalServer`)."""

    @property
    def api_url(self) -> str: ...

    @property
    def ui_url(self) -> str: ...


Server = TypeVar("Server", bound=ControlPlane, covariant=True)


@dataclass(frozen=True)
class Stack(Generic[Server]):
    """A server one sandbox talks to, and the clients that drive and watch it."""

    sandbox: Sandbox
    host: ProcessHost  # where its processes (the server, workers) start, and their bounds
    server: Server
    api: PrefectApi
    cli: PrefectCli
    monitor: SessionMonitor
    runs: RunObserver
    timings: Timings
    ledger: Ledger  # what the session made there (noted only where it must be removed)


AnyStack = Stack[ControlPlane]  # on whichever server: what every guide step needs
OwnStack = Stack[PrefectServer]  # on a server the harness runs: faults, its log, its files


def runs_own_server(stack: AnyStack) -> TypeGuard[OwnStack]:
    """Whether the harness runs this stack's server itself."""
    return isinstance(stack.server, PrefectServer)


def write_sandbox_card(sandbox: Sandbox, server: PrefectServer | None) -> None:
    """`session.json`: where this sandbox's server is, for people and tools outside it."""
    card = {
        "api_url": sandbox.api_url,
        "ui_url": sandbox.base_url,
        "port": sandbox.port if server else None,
        "server_pid": server.process.pid if server else None,
        "prefect_home": str(sandbox.home),
        "logs": str(sandbox.logs),
    }
    (sandbox.root / "session.json").write_text(json.dumps(card, indent=2) + "\n")


def set_warehouse_url(api: PrefectApi, url: str) -> None:
    """Set the blueprint's `warehouse_url` Variable, as its users do (README)."""
    try:
        api.post("variables/", {"name": WAREHOUSE_VARIABLE, "value": url})
    except ApiError as error:
        if error.status_code != 409:  # a server that served this sandbox before has it
            raise
        api.request("PATCH", f"variables/name/{WAREHOUSE_VARIABLE}", json={"value": url})


def point_at_warehouse(api: PrefectApi, warehouse: Warehouse | None) -> None:
    """Configure the blueprint the way its users do: the `warehouse_url` Variable names
    the warehouse its runs write to, here the sandbox's own."""
    if warehouse is not None:
        set_warehouse_url(api, warehouse.url)


def transcript_path(sandbox: Sandbox) -> Path:
    return sandbox.logs / "cli-transcript.log"


_CLIS: dict[int, tuple[Sandbox, PrefectCli]] = {}  # the sandbox kept: its id stays its own
_CLIS_LOCK = threading.Lock()


def sandbox_cli(sandbox: Sandbox) -> PrefectCli:
    """Terminal A for this sandbox: its environment, the project as cwd, its transcript.

    One per sandbox: the steps that run before its server is up and the stack share the
    transcript and the set of running commands that an interrupt kills."""
    with _CLIS_LOCK:
        if id(sandbox) not in _CLIS:
            cli = PrefectCli(
                sandbox.env(),
                sandbox.project_dir,
                transcript_path(sandbox),
                bin_dir=sandbox.bin_dir,
            )
            _CLIS[id(sandbox)] = (sandbox, cli)
        return _CLIS[id(sandbox)][1]


def open_stack(
    host: ProcessHost,
    sandbox: Sandbox,
    config: HarnessConfig,
    timings: Timings | None = None,
    *,
    configure_warehouse: bool = True,
) -> AbstractContextManager[AnyStack]:
    """The sandbox's stack: on a server of our own, or on the one someone else runs."""
    if sandbox.external_api_url:
        return external_stack(host, sandbox, config, timings)
    return own_stack(
        host, sandbox, config.run_timeout, timings, configure_warehouse=configure_warehouse
    )


@contextmanager
def own_stack(
    host: ProcessHost,
    sandbox: Sandbox,
    run_timeout: float,
    timings: Timings | None = None,
    *,
    configure_warehouse: bool = True,
) -> Iterator[OwnStack]:
    """Start the sandbox's server and yield the stack; everything is stopped on exit.
    Its runs write to the sandbox's warehouse unless `configure_warehouse` is false (the
    main stack's steps configure it once the runs that need nothing configured ended)."""
    monitor = SessionMonitor(host.log_tail, transcript_path(sandbox))
    timings = timings or Timings()
    try:
        with running_server(host, sandbox) as server:
            timings.record(SERVER_START, sum(p.startup_seconds for p in server.processes))
            write_sandbox_card(sandbox, server)
            unwatch = [monitor.watch(process) for process in server.processes]
            api = PrefectApi(
                sandbox.api_url,
                liveness=monitor.check_alive,
                auth_string=sandbox.auth_string,
                retried=timings.retried,
            )
            try:
                install_zombie_detection(api)
                if configure_warehouse:
                    point_at_warehouse(api, sandbox.warehouse)
                runs = RunObserver(api, monitor, run_timeout, timings)
                cli = sandbox_cli(sandbox)
                yield Stack(sandbox, host, server, api, cli, monitor, runs, timings, NoLedger())
            finally:
                api.close()
                for stop_watching in unwatch:
                    stop_watching()
    finally:
        timings.write(sandbox.logs / "timings.json")


@contextmanager
def external_stack(
    host: ProcessHost, sandbox: Sandbox, config: HarnessConfig, timings: Timings | None = None
) -> Iterator[Stack[ExternalServer]]:
    """The stack of a server someone else runs: checked first (reachable, credentials
    accepted, Prefect 3), never started or stopped; what the session makes there is
    removed on exit."""
    monitor = SessionMonitor(host.log_tail, transcript_path(sandbox))
    timings = timings or Timings()
    assert sandbox.external_api_url is not None
    check_server(sandbox.external_api_url, sandbox.auth_string, sandbox.api_key)
    write_sandbox_card(sandbox, None)
    ledger = ExternalLedger(remove_runs=config.cleanup_runs, exact_names=not sandbox.name_suffix)
    server = ExternalServer(sandbox.api_url, sandbox.base_url)
    try:
        with external_api(sandbox, monitor, ledger, timings.retried) as api:
            ledger.begin(api)
            runs = RunObserver(api, monitor, config.run_timeout, timings)
            cli = sandbox_cli(sandbox)
            yield Stack(sandbox, host, server, api, cli, monitor, runs, timings, ledger)
    finally:
        timings.write(sandbox.logs / "timings.json")


@contextmanager
def running_stack_workers(
    stack: AnyStack, pool: str, label: str = "prefect-worker"
) -> Iterator[WorkerFleet]:
    """Start the backend's workers on `pool` for this stack, watched like the server."""
    with running_workers(stack.host, stack.sandbox, stack.api, pool, label=label) as fleet:
        started = [worker.process.startup_seconds for worker in fleet.workers]
        stack.timings.record(WORKER_START, sum(started))
        unwatch = [stack.monitor.watch(worker.process) for worker in fleet.workers]
        try:
            yield fleet
        finally:
            for stop_watching in unwatch:
                stop_watching()
