"""A new sandbox on the configured backend or on a server someone else runs (no pytest
here: the fixture factories, `blueprint up` and the benchmarks all open sandboxes with it)."""

from __future__ import annotations

import secrets
from collections.abc import Callable, Mapping
from contextlib import AbstractContextManager
from functools import partial
from pathlib import Path
from typing import cast

from blueprint_harness.backends import BACKENDS, BackendServers, Database
from blueprint_harness.backends.base import ProvisionContext, WarehouseHost
from blueprint_harness.backends.sqlite import SqliteDatabase, cached_template, database_file
from blueprint_harness.backends.warehouses import warehouse_at
from blueprint_harness.config import HarnessConfig
from blueprint_harness.process.managed import ProcessHost
from blueprint_harness.stack.external import ServerSideDatabase
from blueprint_harness.stack.sandbox import Sandbox, scrubbed_environ, venv_bin
from blueprint_harness.stack.stack import AnyStack, OwnStack, own_stack


def backend_servers(
    host: ProcessHost, folder: Callable[[str], Path], config: HarnessConfig
) -> BackendServers:
    """The servers `config.backend` needs (PostgreSQL, Redis, SQLite's template), each
    provisioned in `folder(its name)` the first time a sandbox on it opens."""

    def context(need: str) -> ProvisionContext:
        return ProvisionContext(
            host=host,
            folder=folder(need),
            prefect=venv_bin() / "prefect",
            env=scrubbed_environ(),
            use_template=config.db_template,
        )

    return BackendServers(context)


def side_stack(
    beside: AnyStack, label: str, *, run_timeout: float | None = None
) -> AbstractContextManager[OwnStack]:
    """A stack of its own beside `beside` (its folder's sibling, the same project and
    process host): one SQLite server, nothing configured, no worker; for a case that must
    reconfigure its server while the other stack's runs go on."""
    root = beside.sandbox.root.with_name(f"{beside.sandbox.root.name}-{label}")
    sandbox = Sandbox.create(
        root,
        beside.sandbox.project_dir,
        database=SqliteDatabase(database_file(root), cached_template()),
    )
    return own_stack(beside.host, sandbox, run_timeout or beside.runs.timeout)


def open_sandbox(
    root: Path,
    config: HarnessConfig,
    servers: BackendServers,
    *,
    settings: Mapping[str, str] | None = None,
    auth_string: str | None = None,
) -> Sandbox:
    """A fresh sandbox under `root`: on a server someone else runs (external mode: none of
    `servers` is started), or with a part of its own of each component the backend needs
    (its database, its Redis database number), provisioned by `servers` on first use."""
    assert config.project_dir is not None
    create = partial(
        Sandbox.create,
        root,
        config.project_dir,
        worker_query_seconds=config.worker_query_seconds,
        extra_settings=settings,
        auth_string=auth_string or config.auth_string,
    )
    if config.external:
        return create(
            database=ServerSideDatabase(),
            warehouse=warehouse_at(config.warehouse_url) if config.warehouse_url else None,
            external_api_url=config.api_url,
            api_key=config.api_key,
            name_suffix=secrets.token_hex(3) if config.names == "unique" else "",
        )
    backend = BACKENDS[config.backend]
    first, *extras = servers.allocate(backend, root, root.name)
    database = cast(Database, first)  # a backend's first need holds Prefect's data
    warehouse = cast(WarehouseHost, servers[backend.database]).warehouse(root, root.name)
    return create(database=database, backend=backend, extras=tuple(extras), warehouse=warehouse)
