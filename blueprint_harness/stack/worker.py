"""The data plane: `prefect worker start --pool ...` as a managed process of the sandbox."""

from __future__ import annotations

import re
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from pathlib import Path

from blueprint_harness.process.managed import (
    ManagedProcess,
    ProcessHost,
    ProcessSpec,
    managed_process,
)
from blueprint_harness.process.readiness import LogLineReady
from blueprint_harness.stack.api import PrefectApi
from blueprint_harness.stack.sandbox import Sandbox

STARTED = re.compile(r"Worker '(?P<name>[^']+)' started!")


class WorkerPolling(LogLineReady):
    """Ready when the API lists this worker (named in its log) as ONLINE in the pool."""

    def __init__(self, api: PrefectApi, pool: str, log_path: Path) -> None:
        super().__init__(log_path, STARTED, "the worker to announce itself")
        self.api = api
        self.pool = pool
        self.expected = f"the worker to announce itself and show ONLINE in pool {pool!r}"

    @property
    def name(self) -> str | None:
        return self.match["name"] if self.match else None

    def __call__(self) -> bool:
        if not super().__call__():
            return False
        workers = {w.name: w for w in self.api.workers(self.pool)}
        seen = workers.get(self.name) if self.name else None
        self.last_seen = (
            f"worker {self.name!r} is {seen.status}"
            if seen
            else f"worker {self.name!r} not registered; pool lists {sorted(workers)}"
        )
        return seen is not None and seen.status == "ONLINE"


def worker_args(pool: str, bin_dir: Path) -> tuple[str, ...]:
    """The guide's `prefect worker start --pool "local-process-pool"`, verbatim."""
    return (str(bin_dir / "prefect"), "worker", "start", "--pool", pool)


@dataclass(frozen=True)
class PrefectWorker:
    """A running process worker of this sandbox, and the name it registered under."""

    pool: str
    process: ManagedProcess
    ready: WorkerPolling

    @property
    def name(self) -> str:
        """The name of the latest start (a restarted worker registers anew)."""
        assert self.ready.name is not None
        return self.ready.name


@contextmanager
def running_worker(
    host: ProcessHost,
    sandbox: Sandbox,
    api: PrefectApi,
    pool: str,
    *,
    name: str = "prefect-worker",
) -> Iterator[PrefectWorker]:
    """Start a worker on `pool`, yield it once the API shows it polling, always stop it."""
    log_path = sandbox.logs / f"{name}.log"
    ready = WorkerPolling(api, pool, log_path)
    spec = ProcessSpec(
        name=f"{name}-{sandbox.name}",
        label="prefect worker",
        args=worker_args(pool, sandbox.bin_dir),
        env=sandbox.env(),
        cwd=sandbox.workdir,
        log_path=log_path,
        ready=ready,
    )
    with managed_process(host, spec) as process:
        yield PrefectWorker(pool, process, ready)


@dataclass(frozen=True)
class WorkerFleet:
    """The workers polling one pool: one in the embedded shape, several in production."""

    pool: str
    workers: tuple[PrefectWorker, ...]

    @property
    def names(self) -> list[str]:
        return [worker.name for worker in self.workers]

    @property
    def log_paths(self) -> list[Path]:
        return [worker.process.log_path for worker in self.workers]

    def by_process_name(self, name: str) -> PrefectWorker:
        """The worker whose managed process is called `name` (what its children's marker
        variable says)."""
        return next(worker for worker in self.workers if worker.process.spec.name == name)


@contextmanager
def running_workers(
    host: ProcessHost,
    sandbox: Sandbox,
    api: PrefectApi,
    pool: str,
    *,
    label: str = "prefect-worker",
) -> Iterator[WorkerFleet]:
    """Start the backend's number of workers on `pool`, each with the guide's command
    (`label` names their processes and logs)."""
    count = sandbox.backend.workers
    names = [label] if count == 1 else [f"{label}-{i}" for i in range(1, count + 1)]
    with ExitStack() as stack:
        workers = tuple(
            stack.enter_context(running_worker(host, sandbox, api, pool, name=name))
            for name in names
        )
        yield WorkerFleet(pool, workers)
