"""SQLite, the embedded default: one file in each stack's own folder.

Provisioned once per session as a migrated template, cached per Prefect version (a fresh
file spends most of the server's start-up in migrations); each stack copies it.
"""

from __future__ import annotations

import importlib.metadata
import os
import shutil
import sqlite3
import subprocess
from collections.abc import Iterator, Mapping
from contextlib import closing, contextmanager
from dataclasses import dataclass, replace
from pathlib import Path

from blueprint_harness.backends.base import Provider, ProvisionContext
from blueprint_harness.backends.warehouses import SqliteWarehouse
from blueprint_harness.cache import cache_dir


@dataclass(frozen=True)
class SqliteDatabase:
    """A fresh SQLite file owned by one session."""

    path: Path
    template: Path | None = None
    name: str = "sqlite"

    def prepare(self) -> None:
        """Start from the migrated template, if any (the session's own copy)."""
        if self.template is not None and not self.path.exists():
            self.path.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(self.template, self.path)

    def settings(self) -> dict[str, str]:
        return sqlite_settings(self.path)

    def describe(self) -> str:
        return f"SQLite at {self.path}"

    def emptied(self) -> SqliteDatabase:
        self.path.unlink(missing_ok=True)
        return replace(self, template=None)

    def release(self) -> None:
        """Nothing to give back: the file goes with the stack's folder."""

    def flow_run_ids(self) -> set[str]:
        """Flow-run ids stored in the file, read directly: proof the server writes here."""
        uri = f"file:{self.path}?mode=ro"
        with sqlite3.connect(uri, uri=True, timeout=10) as connection:
            rows = connection.execute("SELECT id FROM flow_run").fetchall()
        return {str(row[0]) for row in rows}


def sqlite_settings(path: Path) -> dict[str, str]:
    return {"PREFECT_SERVER_DATABASE_CONNECTION_URL": f"sqlite+aiosqlite:///{path}"}


def migrated_sqlite_template(
    cache_dir: Path, prefect: Path, env: Mapping[str, str], timeout: float
) -> Path:
    """An empty SQLite database migrated by this Prefect version, built once and cached.

    `prefect server database upgrade` runs the migrations without a server; concurrent
    builders (pytest-xdist workers) each write their own file and the last rename wins.
    """
    version = importlib.metadata.version("prefect")
    template = cache_dir / f"prefect-{version}.db"
    if template.exists():
        return template
    cache_dir.mkdir(parents=True, exist_ok=True)
    building = cache_dir / f"building-{os.getpid()}.db"
    building.unlink(missing_ok=True)
    result = subprocess.run(
        [str(prefect), "server", "database", "upgrade", "-y"],
        env={**env, "PREFECT_HOME": str(cache_dir / "home"), **sqlite_settings(building)},
        cwd=cache_dir,
        capture_output=True,
        text=True,
        check=False,
        timeout=timeout,
    )
    if result.returncode != 0:
        raise RuntimeError(
            f"Could not build the migrated database template {template} "
            f"(`prefect server database upgrade` exited {result.returncode}):\n"
            f"{result.stdout[-2000:]}{result.stderr[-2000:]}"
        )
    with closing(sqlite3.connect(building)) as connection:  # fold the WAL into the file
        connection.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    os.replace(building, template)
    return template


def cached_template() -> Path | None:
    """This Prefect version's migrated template, if a session built it already."""
    found = cache_dir("db-templates") / f"prefect-{importlib.metadata.version('prefect')}.db"
    return found if found.exists() else None


def database_file(root: Path) -> Path:
    """Where a stack in `root` keeps its SQLite database (in its PREFECT_HOME)."""
    return root / "prefect-home" / "prefect.db"


@dataclass(frozen=True)
class SqliteTemplate:
    """The session's migrated template (None: each server migrates its own file)."""

    template: Path | None

    def allocate(self, root: Path, label: str) -> SqliteDatabase:
        return SqliteDatabase(database_file(root), self.template)

    def warehouse(self, root: Path, label: str) -> SqliteWarehouse:
        folder = root / "warehouse"
        folder.mkdir(parents=True, exist_ok=True)  # a configured warehouse must exist
        return SqliteWarehouse(folder / "warehouse.db")


@contextmanager
def _provision(context: ProvisionContext) -> Iterator[SqliteTemplate]:
    template = None
    if context.use_template:
        template = migrated_sqlite_template(
            cache_dir("db-templates"),
            context.prefect,
            context.env,
            context.host.startup_timeout,
        )
    yield SqliteTemplate(template)


PROVIDER = Provider("sqlite", check_installed=lambda: None, provision=_provision)
