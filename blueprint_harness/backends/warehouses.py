"""The blueprint's warehouse, read from outside the flow: what each run's load wrote.

The flow writes `target_table = "warehouse.<schema>.<table>"` as its run's batch (rows keyed
by the flow run's id): in SQLite, into the database file of that schema beside the main
file (`warehouse.<schema>.db`); in PostgreSQL, into that schema. The harness reads the
same places with its own clients (sqlite3, asyncpg), never with the flow's code, and can
hold a writer's lock on a schema, a real transient fault for the load's retries.
"""

from __future__ import annotations

import asyncio
import contextlib
import sqlite3
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import closing, contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

import asyncpg

Row = dict[str, Any]
# The blueprint's contract (README): the Prefect Variable that names the flow's warehouse.
WAREHOUSE_VARIABLE = "warehouse_url"
COLUMNS = ("id", "metric", "value", "normalized", "bucket", "source")


class Warehouse(Protocol):
    """A warehouse the flow is pointed at, and how to read it."""

    @property
    def url(self) -> str:
        """What the flow is told (the `warehouse_url` Variable's value)."""
        ...

    def rows(self, target_table: str, batch_id: str) -> list[Row]:
        """The rows the batch (a flow run) holds in `target_table`, by id (none: [])."""
        ...

    def batches(self, target_table: str) -> dict[str, int]:
        """How many rows each batch holds in `target_table`."""
        ...

    def locked(self, target_table: str) -> contextlib.AbstractContextManager[None]:
        """Hold a writer's lock where `target_table` is written, for the block's time."""
        ...

    def describe(self) -> str: ...

    def release(self) -> None:
        """Give the warehouse back once the sandbox is gone (drop a database, ...)."""
        ...


def _split(target_table: str) -> tuple[str, str]:
    _, schema, table = target_table.split(".")
    return schema, table


@dataclass(frozen=True)
class SqliteWarehouse:
    """The SQLite files of one warehouse: `path` and a file per schema beside it."""

    path: Path

    @property
    def url(self) -> str:
        return f"sqlite:///{self.path}"

    def schema_file(self, schema: str) -> Path:
        return self.path.with_name(f"{self.path.stem}.{schema}{self.path.suffix}")

    def _query(self, target_table: str, sql: str, *args: object) -> list[sqlite3.Row]:
        schema, table = _split(target_table)
        file = self.schema_file(schema)
        if not file.exists():
            return []
        with closing(sqlite3.connect(f"file:{file}?mode=ro", uri=True, timeout=30)) as db:
            db.row_factory = sqlite3.Row
            try:
                return list(db.execute(sql.format(table=f'"{table}"'), args))
            except sqlite3.OperationalError as error:
                if "no such table" in str(error):
                    return []
                raise

    def rows(self, target_table: str, batch_id: str) -> list[Row]:
        columns = ", ".join(COLUMNS)
        sql = f"SELECT {columns} FROM {{table}} WHERE batch_id = ? ORDER BY id"
        return [dict(row) for row in self._query(target_table, sql, batch_id)]

    def batches(self, target_table: str) -> dict[str, int]:
        sql = "SELECT batch_id, count(*) FROM {table} GROUP BY batch_id"
        return {row[0]: row[1] for row in self._query(target_table, sql)}

    @contextmanager
    def locked(self, target_table: str) -> Iterator[None]:
        schema, _ = _split(target_table)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with closing(sqlite3.connect(self.schema_file(schema), isolation_level=None)) as db:
            db.execute("BEGIN EXCLUSIVE")  # what another writer mid-transaction holds
            try:
                yield
            finally:
                db.execute("ROLLBACK")

    def describe(self) -> str:
        return f"SQLite warehouse {self.path} (a file per schema beside it)"

    def release(self) -> None:
        """Nothing to give back: the files go with the sandbox's folder."""


@dataclass(frozen=True)
class PostgresWarehouse:
    """A PostgreSQL database as the warehouse (a schema per schema)."""

    dsn: str
    drop: Any = None  # how to give the database back, if the harness made it

    @property
    def url(self) -> str:
        return self.dsn

    def _fetch(self, sql: str, *args: object) -> list[Row]:
        async def run() -> list[Row]:
            connection = await asyncpg.connect(self.dsn, timeout=10)
            try:
                return [dict(row) for row in await connection.fetch(sql, *args)]
            except asyncpg.UndefinedTableError:
                return []
            finally:
                await connection.close()

        # In a thread of its own: the caller's thread may run an event loop (Playwright).
        with ThreadPoolExecutor(1) as thread:
            return thread.submit(asyncio.run, run()).result()

    def rows(self, target_table: str, batch_id: str) -> list[Row]:
        schema, table = _split(target_table)
        columns = ", ".join(COLUMNS)
        sql = f'SELECT {columns} FROM "{schema}"."{table}" WHERE batch_id = $1 ORDER BY id'
        return self._fetch(sql, batch_id)

    def batches(self, target_table: str) -> dict[str, int]:
        schema, table = _split(target_table)
        sql = f'SELECT batch_id, count(*) AS n FROM "{schema}"."{table}" GROUP BY batch_id'
        return {row["batch_id"]: row["n"] for row in self._fetch(sql)}

    @contextmanager
    def locked(self, target_table: str) -> Iterator[None]:
        import psycopg

        schema, table = _split(target_table)
        with psycopg.connect(self.dsn, connect_timeout=10) as connection:
            # What a writer mid-transaction (a migration, a long load) holds.
            connection.execute(f'LOCK TABLE "{schema}"."{table}" IN ACCESS EXCLUSIVE MODE')
            try:
                yield
            finally:
                connection.rollback()

    def describe(self) -> str:
        return "PostgreSQL warehouse " + self.dsn.split("@")[-1]

    def release(self) -> None:
        if self.drop is not None:
            self.drop()


def warehouse_at(url: str) -> Warehouse:
    """The warehouse a URL names (as the `warehouse_url` Variable or an option gives it)."""
    if url.startswith("sqlite:///"):
        return SqliteWarehouse(Path(url.removeprefix("sqlite:///")))
    if url.startswith(("postgresql://", "postgres://")):
        return PostgresWarehouse(url)
    raise ValueError(f"{url!r} is neither a sqlite:/// nor a postgresql:// URL")
