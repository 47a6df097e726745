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
from collections.abc import Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import closing, contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

import asyncpg

Row = dict[str, Any]
# The blueprint's contract (README): the Prefect Variable that names the flow's warehouse,
# else the embedded one, SQLite files in the project's `warehouse/` folder.
WAREHOUSE_VARIABLE = "warehouse_url"
EMBEDDED_WAREHOUSE = Path("warehouse") / "warehouse.db"
COLUMNS = ("id", "metric", "value", "normalized", "bucket", "source")
# A table as the blueprint's load makes it (README's contract), for tables the harness
# prepares before a run loads into them.
SQLITE_TABLE = (
    "CREATE TABLE {name} (batch_id TEXT NOT NULL, id INTEGER NOT NULL, metric TEXT, "
    "value REAL, normalized REAL, bucket TEXT, source TEXT, PRIMARY KEY (batch_id, id))"
)
POSTGRES_TABLE = (
    "CREATE TABLE {name} (batch_id TEXT NOT NULL, id INTEGER NOT NULL, metric TEXT, "
    "value DOUBLE PRECISION, normalized DOUBLE PRECISION, bucket TEXT, source TEXT, "
    "PRIMARY KEY (batch_id, id))"
)


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

    def tables(self) -> list[str]:
        """Every table it holds, as `warehouse.<schema>.<table>`."""
        ...

    def refusing(self, target_table: str, refused_id: int, seed: Sequence[Row]) -> None:
        """Make `target_table` hold `seed` (rows with their batch_id) and refuse, mid-load,
        any row whose id is `refused_id` (a constraint a warehouse's owner can set)."""
        ...

    def delete_batch(self, target_table: str, batch_id: str) -> None:
        """Remove a batch (what the harness wrote into a warehouse it does not own)."""
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

    def tables(self) -> list[str]:
        found = []
        for file in sorted(self.path.parent.glob(f"{self.path.stem}.*{self.path.suffix}")):
            schema = file.name.removeprefix(f"{self.path.stem}.").removesuffix(self.path.suffix)
            with closing(sqlite3.connect(f"file:{file}?mode=ro", uri=True, timeout=30)) as db:
                names = db.execute("SELECT name FROM sqlite_master WHERE type = 'table'")
                found += [f"warehouse.{schema}.{name}" for (name,) in names]
        return found

    def refusing(self, target_table: str, refused_id: int, seed: Sequence[Row]) -> None:
        schema, table = _split(target_table)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with closing(sqlite3.connect(self.schema_file(schema), isolation_level=None)) as db:
            db.execute(SQLITE_TABLE.format(name=f'"{table}"'))
            db.execute(
                f'CREATE TRIGGER "refuse_{refused_id}" BEFORE INSERT ON "{table}" '
                f"WHEN NEW.id = {int(refused_id)} BEGIN "
                f"SELECT RAISE(ABORT, 'the warehouse refuses row {int(refused_id)}'); END"
            )
            columns = ("batch_id", *COLUMNS)
            db.executemany(
                f'INSERT INTO "{table}" VALUES ({", ".join("?" * len(columns))})',
                [tuple(row[c] for c in columns) for row in seed],
            )

    def delete_batch(self, target_table: str, batch_id: str) -> None:
        schema, table = _split(target_table)
        if self.schema_file(schema).exists():
            with closing(sqlite3.connect(self.schema_file(schema), timeout=30)) as db, db:
                db.execute(f'DELETE FROM "{table}" WHERE batch_id = ?', (batch_id,))

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

    def tables(self) -> list[str]:
        sql = (
            "SELECT table_schema, table_name FROM information_schema.tables "
            "WHERE table_schema NOT IN ('pg_catalog', 'information_schema')"
        )
        return sorted(f"warehouse.{r['table_schema']}.{r['table_name']}" for r in self._fetch(sql))

    def refusing(self, target_table: str, refused_id: int, seed: Sequence[Row]) -> None:
        import psycopg

        schema, table = _split(target_table)
        name = f'"{schema}"."{table}"'
        with psycopg.connect(self.dsn, connect_timeout=10) as connection:
            connection.execute(f'CREATE SCHEMA IF NOT EXISTS "{schema}"')
            connection.execute(POSTGRES_TABLE.format(name=name))
            connection.execute(
                f'CREATE FUNCTION "{schema}".refuse_{int(refused_id)}() RETURNS trigger '
                "LANGUAGE plpgsql AS $$ BEGIN RAISE EXCEPTION "
                f"'the warehouse refuses row {int(refused_id)}'; END $$"
            )
            connection.execute(
                f"CREATE TRIGGER refuse_{int(refused_id)} BEFORE INSERT ON {name} FOR EACH ROW "
                f"WHEN (NEW.id = {int(refused_id)}) "
                f'EXECUTE FUNCTION "{schema}".refuse_{int(refused_id)}()'
            )
            columns = ("batch_id", *COLUMNS)
            with connection.cursor() as cursor:
                cursor.executemany(
                    f"INSERT INTO {name} VALUES ({', '.join(['%s'] * len(columns))})",
                    [tuple(row[c] for c in columns) for row in seed],
                )

    def delete_batch(self, target_table: str, batch_id: str) -> None:
        import psycopg

        schema, table = _split(target_table)
        with psycopg.connect(self.dsn, connect_timeout=10) as connection:
            connection.execute(f'DELETE FROM "{schema}"."{table}" WHERE batch_id = %s', (batch_id,))

    def describe(self) -> str:
        return "PostgreSQL warehouse " + self.dsn.split("@")[-1]

    def release(self) -> None:
        if self.drop is not None:
            self.drop()


def embedded_warehouse(project_dir: Path) -> SqliteWarehouse:
    """The warehouse a run with nothing configured writes to: the project's own files."""
    return SqliteWarehouse(project_dir / EMBEDDED_WAREHOUSE)


def warehouse_at(url: str) -> Warehouse:
    """The warehouse a URL names (as the `warehouse_url` Variable or an option gives it)."""
    if url.startswith("sqlite:///"):
        return SqliteWarehouse(Path(url.removeprefix("sqlite:///")))
    if url.startswith(("postgresql://", "postgres://")):
        return PostgresWarehouse(url)
    raise ValueError(f"{url!r} is neither a sqlite:/// nor a postgresql:// URL")
