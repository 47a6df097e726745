"""PostgreSQL: one server for the session, a fresh database per stack from a migrated template.

The server is Debian's `postgresql` (any version Prefect supports), in a cluster made by
`initdb` in a folder the session owns, listening on a free loopback port only (no Unix
socket), with a password of its own. `initdb` and `postgres` refuse to run as root, and
CI runs as root: as root both run as the `postgres` system user that Debian's package
creates, through util-linux's `setpriv` (no login, no PAM, no shell in between: signals
reach the server itself).

Not pytest-postgresql's executor: it drives `pg_ctl`, which daemonises the server out of
any process tree a harness manages and cannot change user. The server runs instead under
the harness's one process lifecycle (xprocess, the marker sweep, the watchdog), like every
other process, and stops with PostgreSQL's own fast shutdown (SIGINT).

Migrations run once per session, into a template database, together with what a
Prefect API process would otherwise write at its first start (the block types): so
several API processes starting at once on a copy never race to write them.
"""

from __future__ import annotations

import asyncio
import os
import pwd
import re
import secrets
import shutil
import signal
import subprocess
from collections.abc import Iterator, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass, replace
from functools import partial
from pathlib import Path
from typing import Any

import asyncpg

from blueprint_harness.backends.base import BackendUnavailable, Provider, ProvisionContext
from blueprint_harness.backends.warehouses import PostgresWarehouse
from blueprint_harness.process import janitor
from blueprint_harness.process.managed import (
    ManagedProcess,
    ProcessHost,
    ProcessSpec,
    managed_process,
)
from blueprint_harness.process.ports import LOOPBACK, free_port
from blueprint_harness.process.readiness import HttpReady, Probe

SYSTEM_USER = "postgres"
ROLE = "prefect"
TEMPLATE = "prefect_template"
CONNECT_TIMEOUT_SECONDS = 5.0
# Several stacks, each with up to three processes of Prefect's default pool size (5 + 10).
MAX_CONNECTIONS = 400
INSTALL_HINT = "install Debian's PostgreSQL: sudo apt-get install postgresql"


def find_binaries() -> Path:
    """The folder holding `initdb` and `postgres`: on PATH, or Debian's newest version
    under /usr/lib/postgresql (Debian keeps them off PATH)."""
    on_path = shutil.which("postgres")
    if on_path and shutil.which("initdb"):
        return Path(on_path).resolve().parent
    versions = sorted(
        Path("/usr/lib/postgresql").glob("*/bin/postgres"),
        key=lambda path: int(path.parent.parent.name) if path.parent.parent.name.isdigit() else 0,
    )
    if not versions:
        raise BackendUnavailable(
            f"PostgreSQL is not installed (no initdb/postgres): {INSTALL_HINT}"
        )
    return versions[-1].parent


def as_server_user() -> tuple[str, ...]:
    """The command prefix that runs a program as the database's system user when we are
    root (initdb and postgres refuse root); nothing otherwise."""
    if os.geteuid() != 0:
        return ()
    try:
        pwd.getpwnam(SYSTEM_USER)
    except KeyError:
        raise BackendUnavailable(
            f"running as root, PostgreSQL needs its system user {SYSTEM_USER!r}: {INSTALL_HINT}"
        ) from None
    return ("setpriv", f"--reuid={SYSTEM_USER}", f"--regid={SYSTEM_USER}", "--init-groups")


def _give_to_server_user(path: Path) -> None:
    if os.geteuid() == 0:
        user = pwd.getpwnam(SYSTEM_USER)
        os.chown(path, user.pw_uid, user.pw_gid)


@dataclass(frozen=True)
class PostgresServer:
    """A running PostgreSQL server of this session, and how to reach it."""

    port: int
    password: str
    process: ManagedProcess | None = None  # None: only a client of it
    host: str = LOOPBACK
    user: str = ROLE

    def url(self, database: str) -> str:
        """The SQLAlchemy URL a Prefect server uses (its driver is asyncpg)."""
        return (
            f"postgresql+asyncpg://{self.user}:{self.password}@{self.host}:{self.port}/{database}"
        )

    def fetch(self, statements: Sequence[str], database: str = "postgres") -> list[list[Any]]:
        """Run SQL statements in one connection; the rows each one returned."""

        async def run() -> list[list[Any]]:
            connection = await asyncpg.connect(
                host=self.host,
                port=self.port,
                user=self.user,
                password=self.password,
                database=database,
                timeout=CONNECT_TIMEOUT_SECONDS,
            )
            try:
                return [list(await connection.fetch(statement)) for statement in statements]
            finally:
                await connection.close()

        # In a thread of its own: the caller's thread may be running an event loop already
        # (Playwright's sync API does, in the UI checks).
        with ThreadPoolExecutor(1) as thread:
            return thread.submit(asyncio.run, run()).result()

    def accepts_connections(self) -> bool:
        return bool(self.fetch(["SELECT 1"])[0][0][0] == 1)

    def new_database(self, name: str) -> PostgresDatabase:
        """A fresh database copied from the migrated template."""
        self.fetch([f'CREATE DATABASE "{name}" TEMPLATE "{TEMPLATE}"'])
        return PostgresDatabase(self, name)

    def allocate(self, root: Path, label: str) -> PostgresDatabase:
        """The stack in `root` gets a database of its own, named after its folder."""
        return self.new_database(database_name(f"{root.name}_{os.getpid()}"))

    def warehouse(self, root: Path, label: str) -> PostgresWarehouse:
        """The stack in `root` gets an empty warehouse database of its own."""
        name = database_name(f"{root.name}_{os.getpid()}_warehouse")
        self.fetch([f'CREATE DATABASE "{name}"'])
        dsn = f"postgresql://{self.user}:{self.password}@{self.host}:{self.port}/{name}"
        return PostgresWarehouse(dsn, drop=partial(self.drop_database, name))

    def drop_database(self, name: str) -> None:
        self.fetch([f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'])


@dataclass(frozen=True)
class PostgresDatabase:
    """One stack's database on the session's PostgreSQL server."""

    server: PostgresServer
    database: str
    name: str = "postgresql"

    def prepare(self) -> None:
        """Nothing to do: the database was copied from the migrated template."""

    def settings(self) -> dict[str, str]:
        return {
            "PREFECT_SERVER_DATABASE_CONNECTION_URL": self.server.url(self.database),
            # Migrated (and block types registered) once, in the template.
            "PREFECT_SERVER_DATABASE_MIGRATE_ON_START": "false",
            "PREFECT_SERVER_REGISTER_BLOCKS_ON_START": "false",
        }

    def describe(self) -> str:
        return f"PostgreSQL database {self.database!r} at {self.server.host}:{self.server.port}"

    def flow_run_ids(self) -> set[str]:
        rows = self.server.fetch(["SELECT id FROM flow_run"], database=self.database)[0]
        return {str(row[0]) for row in rows}

    def migration_version(self) -> str | None:
        """The Alembic revision the database was migrated to (None: never migrated)."""
        rows = self.server.fetch(["SELECT version_num FROM alembic_version"], self.database)[0]
        return str(rows[0][0]) if rows else None

    def emptied(self) -> PostgresDatabase:
        self.server.drop_database(self.database)
        self.server.fetch([f'CREATE DATABASE "{self.database}"'])
        return self

    def release(self) -> None:
        self.server.drop_database(self.database)


def database_name(label: str) -> str:
    """A database name from a session label (letters, digits and underscores)."""
    return re.sub(r"\W", "_", label).lower()[:60]


@contextmanager
def running_postgres(
    host: ProcessHost, logs: Path, *, name: str = "postgresql"
) -> Iterator[PostgresServer]:
    """A new cluster on a free loopback port, yielded once it accepts connections; stopped
    (fast shutdown) and removed on the way out, whatever happened."""
    bindir = find_binaries()
    runner = as_server_user()
    port = free_port()
    folder = janitor.owned_folder() / f"{name}-{port}"
    folder.mkdir()
    try:
        _give_to_server_user(folder)
        password = secrets.token_urlsafe(18)
        password_file = folder / "password"
        password_file.write_text(password)
        password_file.chmod(0o600)
        _give_to_server_user(password_file)
        data = folder / "data"
        _initdb(
            runner, bindir, data, password_file, logs / f"{name}-initdb.log", host.startup_timeout
        )
        password_file.unlink()
        client = PostgresServer(port, password)
        spec = ProcessSpec(
            name=f"{name}-{port}-{os.getpid()}",
            label="postgresql",
            args=(
                *runner,
                str(bindir / "postgres"),
                "-D",
                str(data),
                "-p",
                str(port),
                "-c",
                f"listen_addresses={LOOPBACK}",
                "-c",
                "unix_socket_directories=",
                "-c",
                f"max_connections={MAX_CONNECTIONS}",
            ),
            env=_server_environ(),
            cwd=folder,
            log_path=logs / f"{name}.log",
            ready=Probe(client.accepts_connections, f"PostgreSQL to accept connections on {port}"),
            stop_signal=signal.SIGINT,  # fast shutdown: clients disconnected, data kept
        )
        with managed_process(host, spec) as process:
            yield replace(client, process=process)
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def _server_environ() -> dict[str, str]:
    return {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "LC_ALL": "C.UTF-8"}


def _initdb(
    runner: tuple[str, ...],
    bindir: Path,
    data: Path,
    password_file: Path,
    log: Path,
    timeout: float,
) -> None:
    args = (
        *runner,
        str(bindir / "initdb"),
        "-D",
        str(data),
        "-U",
        ROLE,
        "--auth=scram-sha-256",
        f"--pwfile={password_file}",
        "-E",
        "UTF8",
        "--locale=C.UTF-8",
        "--no-sync",  # a throwaway cluster: durability across an OS crash is not needed
    )
    result = subprocess.run(
        args,
        env=_server_environ(),
        cwd=data.parent,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )
    log.write_text(result.stdout + result.stderr)
    if result.returncode != 0:
        raise BackendUnavailable(
            f"initdb exited {result.returncode} ({' '.join(args)}):\n{result.stderr[-2000:]}"
        )


def migrate_template(
    server: PostgresServer,
    host: ProcessHost,
    *,
    prefect: Path,
    env: Mapping[str, str],
    scratch: Path,
) -> None:
    """Create the template database and bring it to this Prefect version: migrations with
    `prefect server database upgrade`, then one brief API start that registers the block
    types, as every API process would otherwise try to at once."""
    server.fetch([f'CREATE DATABASE "{TEMPLATE}"'])
    settings = {
        **env,
        "PREFECT_HOME": str(scratch / "home"),
        "PREFECT_SERVER_DATABASE_CONNECTION_URL": server.url(TEMPLATE),
        "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
    }
    result = subprocess.run(
        [str(prefect), "server", "database", "upgrade", "-y"],
        env=settings,
        cwd=scratch,
        capture_output=True,
        text=True,
        timeout=host.startup_timeout,
        check=False,
    )
    (scratch / "template-upgrade.log").write_text(result.stdout + result.stderr)
    if result.returncode != 0:
        raise BackendUnavailable(
            f"`prefect server database upgrade` on {server.url(TEMPLATE)} exited "
            f"{result.returncode}:\n{result.stdout[-2000:]}{result.stderr[-2000:]}"
        )
    port = free_port()
    spec = ProcessSpec(
        name=f"prefect-template-{port}-{os.getpid()}",
        label="prefect server (registering block types in the template)",
        args=(
            str(prefect),
            "server",
            "start",
            "--host",
            LOOPBACK,
            "--port",
            str(port),
            "--no-services",
            "--no-ui",
        ),
        env={**settings, "PREFECT_SERVER_DATABASE_MIGRATE_ON_START": "false"},
        cwd=scratch,
        log_path=scratch / "template-blocks.log",
        ready=HttpReady(f"http://{LOOPBACK}:{port}/api/ready"),
    )
    with managed_process(host, spec):
        pass  # ready means the app's start-up, block registration included, is done


@contextmanager
def migrated_postgres(
    host: ProcessHost, folder: Path, *, prefect: Path, env: Mapping[str, str]
) -> Iterator[PostgresServer]:
    """A new PostgreSQL server with the template migrated: what a session on it needs."""
    with running_postgres(host, folder) as server:
        migrate_template(server, host, prefect=prefect, env=env, scratch=folder)
        yield server


def check_installed() -> None:
    find_binaries()
    as_server_user()


def _provision(context: ProvisionContext) -> AbstractContextManager[PostgresServer]:
    return migrated_postgres(context.host, context.folder, prefect=context.prefect, env=context.env)


PROVIDER = Provider("postgresql", check_installed=check_installed, provision=_provision)
