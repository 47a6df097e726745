"""What every backend component is: something a session provisions once (a server, a
migrated template) and from which each stack gets a part of its own (a database, a Redis
database number). One module per component implements `Provider`."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from contextlib import AbstractContextManager
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

from blueprint_harness.backends.warehouses import Warehouse
from blueprint_harness.process.managed import ProcessHost


class BackendUnavailable(RuntimeError):
    """A backend's server cannot be started here; the message says what to install."""


class Allocation(Protocol):
    """One stack's part of a provisioned component."""

    def settings(self) -> dict[str, str]:
        """Environment settings that point a Prefect server at this part."""
        ...

    def describe(self) -> str:
        """Where it lives, for people reading logs and reports."""
        ...

    def release(self) -> None:
        """Give the part back once the stack is gone (drop a database, ...)."""
        ...


class Database(Allocation, Protocol):
    """The stack's part that holds Prefect's own data."""

    @property
    def name(self) -> str:
        """The dialect, as `prefect version` reports it."""
        ...

    def prepare(self) -> None:
        """Make the database ready for a server's first start."""
        ...

    def flow_run_ids(self) -> set[str]:
        """Flow-run ids read from the storage itself: proof the server writes here."""
        ...

    def emptied(self) -> Database:
        """The same database with nothing in it, not even Prefect's schema: for a server
        of another Prefect version, whose own `prefect server database upgrade` makes it."""
        ...


class Provision(Protocol):
    """A component provisioned for a session: it hands each stack a part."""

    def allocate(self, root: Path, label: str) -> Allocation:
        """A new part for the stack whose folder is `root`."""
        ...


class WarehouseHost(Provision, Protocol):
    """A database component that also holds the blueprint's warehouse for each stack."""

    def warehouse(self, root: Path, label: str) -> Warehouse:
        """A new, empty warehouse for the stack whose folder is `root`."""
        ...


@dataclass(frozen=True)
class ProvisionContext:
    """What provisioning may use: the session's process host (launcher and bounds), a
    folder for its data and logs, Prefect's command with a clean environment, and whether
    SQLite servers start from a migrated template."""

    host: ProcessHost
    folder: Path
    prefect: Path
    env: Mapping[str, str]
    use_template: bool = True


@dataclass(frozen=True)
class Provider:
    """A backend component: how to tell it can run here, and how to provision it."""

    name: str
    check_installed: Callable[[], None]
    provision: Callable[[ProvisionContext], AbstractContextManager[Provision]]
