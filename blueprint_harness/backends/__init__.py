"""Where a Prefect server keeps its data, and how its processes are laid out: declared once.

`PROVIDERS` names each component a backend can need (one module each: `sqlite`, a
migrated template file; `postgresql`, a server per session and a database per stack;
`redis`, a server per session and a database number per stack). `BACKENDS` names the
shapes a session can verify the blueprint on, each by the components it needs and its
process layout. `BackendServers` provisions, lazily and once, what a backend needs: the
pytest fixtures, `blueprint up` and the benchmarks all get their servers from it.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from contextlib import ExitStack
from dataclasses import dataclass
from pathlib import Path
from types import MappingProxyType, TracebackType

from blueprint_harness.backends import postgresql, redis, sqlite
from blueprint_harness.backends.base import (
    Allocation,
    BackendUnavailable,
    Database,
    Provider,
    Provision,
    ProvisionContext,
)

__all__ = [
    "BACKENDS",
    "DEFAULT_BACKEND",
    "PROVIDERS",
    "Allocation",
    "Backend",
    "BackendServers",
    "BackendUnavailable",
    "Database",
    "check_installed",
]

PROVIDERS: Mapping[str, Provider] = MappingProxyType(
    {provider.name: provider for provider in (sqlite.PROVIDER, postgresql.PROVIDER, redis.PROVIDER)}
)


@dataclass(frozen=True)
class Backend:
    """What a session's stacks run on, and how their processes are laid out."""

    name: str
    database: str  # the provider holding Prefect's data
    extras: tuple[str, ...] = ()  # providers of what else leaves process memory (Redis)
    api_processes: int = 1  # `prefect server start --workers N` when more than one
    services_apart: bool = False  # background services in `prefect server services start`
    workers: int = 1  # process workers polling the pool, each the guide's command

    @property
    def needs(self) -> tuple[str, ...]:
        """Every provider the backend needs, its database first."""
        return (self.database, *self.extras)

    @property
    def on_postgresql(self) -> bool:
        """Whether Prefect's data lives in PostgreSQL."""
        return self.database == "postgresql"

    @property
    def is_production_shape(self) -> bool:
        """Whether it is Prefect's self-hosted production shape (several API processes,
        the services apart, what leaves memory on Redis)."""
        return self.services_apart and self.api_processes > 1 and bool(self.extras)

    def describe(self) -> str:
        parts = list(self.needs)
        parts.append(f"{self.api_processes} API process(es)")
        if self.services_apart:
            parts.append("services apart")
        parts.append(f"{self.workers} worker(s)")
        return ", ".join(parts)


BACKENDS: Mapping[str, Backend] = MappingProxyType(
    {
        # The embedded default: one `prefect server start` on a SQLite file, one worker.
        "sqlite": Backend("sqlite", "sqlite"),
        # The same shape on a PostgreSQL server.
        "postgresql": Backend("postgresql", "postgresql"),
        # Prefect's self-hosted production shape.
        "production": Backend(
            "production",
            "postgresql",
            extras=("redis",),
            api_processes=2,
            services_apart=True,
            workers=2,
        ),
    }
)


DEFAULT_BACKEND = "sqlite"  # the guide's embedded default


def check_installed(backend: str) -> None:
    """Raise `BackendUnavailable`, saying what to install, if a component the backend
    needs cannot run here: before anything starts."""
    for need in BACKENDS[backend].needs:
        PROVIDERS[need].check_installed()


class BackendServers:
    """The components a backend needs, each provisioned the first time a stack asks for
    it and stopped when this closes (a session that never opens a stack starts none)."""

    def __init__(self, context: Callable[[str], ProvisionContext]) -> None:
        self._context = context  # for a provider's name: where and how to provision it
        self._provisions: dict[str, Provision] = {}
        self._exits = ExitStack()

    def __getitem__(self, need: str) -> Provision:
        if need not in self._provisions:
            provider = PROVIDERS[need]
            provider.check_installed()
            self._provisions[need] = self._exits.enter_context(
                provider.provision(self._context(need))
            )
        return self._provisions[need]

    def allocate(self, backend: Backend, root: Path, label: str) -> list[Allocation]:
        """A part of each component `backend` needs, for the stack in `root`."""
        return [self[need].allocate(root, label) for need in backend.needs]

    def close(self) -> None:
        self._exits.close()

    def __enter__(self) -> BackendServers:
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.close()
