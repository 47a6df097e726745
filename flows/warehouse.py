"""Where the pipeline's `load` writes: a SQL warehouse, through SQLAlchemy.

The warehouse is the one the Prefect Variable `warehouse_url` names
(`sqlite:///path/warehouse.db` or `postgresql://user:password@host:port/database`), else
the embedded SQLite file `warehouse/warehouse.db` under the project root, so the example
runs with no set-up. `target_table = "warehouse.<schema>.<table>"` is, in PostgreSQL, that
schema (created if missing) and table; in SQLite each schema is a database file of its own
beside the main one (`warehouse.<schema>.db`), attached under the schema's name.
"""

from __future__ import annotations

import traceback
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any, NoReturn

from prefect.variables import Variable
from sqlalchemy import (
    Column,
    Double,
    Engine,
    Integer,
    MetaData,
    Table,
    Text,
    create_engine,
    event,
    make_url,
    text,
)
from sqlalchemy.dialects.sqlite import REAL
from sqlalchemy.exc import ArgumentError, DBAPIError, SQLAlchemyError
from sqlalchemy.schema import CreateSchema, CreateTable

WAREHOUSE_VARIABLE = "warehouse_url"
EMBEDDED_WAREHOUSE = Path(__file__).resolve().parent.parent / "warehouse" / "warehouse.db"

# How long a write waits for another writer's lock before the attempt fails. A nightly
# batch that meets a lock held by a migration or a stuck session should fail and be retried
# (the load task's retries), with the reason in its logs, rather than hang until someone
# notices; an ordinary concurrent load is over well within it.
LOCK_WAIT_SECONDS = 5
CONNECT_TIMEOUT_SECONDS = 10

COLUMNS = ("id", "metric", "value", "normalized", "bucket", "source")


class WarehouseUnavailableError(RuntimeError):
    """The warehouse refused the write."""


def warehouse_url() -> str:
    """The configured warehouse (the `warehouse_url` Variable), else the embedded one."""
    configured = Variable.get(WAREHOUSE_VARIABLE, default=None)
    if configured:
        return str(configured)
    EMBEDDED_WAREHOUSE.parent.mkdir(parents=True, exist_ok=True)
    return f"sqlite:///{EMBEDDED_WAREHOUSE}"


def replace_batch(
    url: str, target_table: str, batch_id: str, rows: Sequence[Mapping[str, Any]]
) -> int:
    """Make `rows` the whole of batch `batch_id` in `target_table`, in one transaction that
    first deletes what an earlier attempt wrote; return how many rows were written."""
    _, schema, name = target_table.split(".")
    table = _table(schema, name)
    engine = _engine(url, schema)
    try:
        with engine.begin() as connection:
            if engine.dialect.name == "postgresql":
                # One writer at a time creates the schema and the table (concurrent
                # CREATE ... IF NOT EXISTS can still collide in PostgreSQL's catalog).
                lock = text("SELECT pg_advisory_xact_lock(hashtext(:key))")
                connection.execute(lock, {"key": f'"{schema}"."{name}"'})
                connection.execute(CreateSchema(schema, if_not_exists=True))
            connection.execute(CreateTable(table, if_not_exists=True))
            connection.execute(table.delete().where(table.c.batch_id == batch_id))
            if rows:
                connection.execute(
                    table.insert(),
                    [{"batch_id": batch_id, **{c: row[c] for c in COLUMNS}} for row in rows],
                )
    except (SQLAlchemyError, OSError) as error:
        where = f"Cannot write to target_table={target_table!r}: the warehouse at {_shown(url)}"
        _refused(url, f"{where} refused", error)
    finally:
        engine.dispose()
    return len(rows)


def _table(schema: str, name: str) -> Table:
    float8 = Double().with_variant(REAL(), "sqlite")  # REAL in SQLite, DOUBLE PRECISION in PG
    return Table(
        name,
        MetaData(schema=schema),
        Column("batch_id", Text, primary_key=True),
        Column("id", Integer, primary_key=True),
        Column("metric", Text),
        Column("value", float8),
        Column("normalized", float8),
        Column("bucket", Text),
        Column("source", Text),
    )


def _engine(url: str, schema: str) -> Engine:
    """An engine for the warehouse at `url` whose writes wait at most LOCK_WAIT_SECONDS."""
    try:
        parsed = make_url(url)
    except (ArgumentError, ValueError) as error:
        _refused(url, f"The {WAREHOUSE_VARIABLE} {_shown(url)!r} is not a database URL", error)
    if parsed.drivername == "sqlite" and parsed.database not in (None, "", ":memory:"):
        main = Path(parsed.database)
        engine = create_engine(
            parsed, connect_args={"timeout": LOCK_WAIT_SECONDS}, hide_parameters=True
        )
        _attach_and_lock_on_begin(
            engine, schema, main.with_name(f"{main.stem}.{schema}{main.suffix}")
        )
        return engine
    if parsed.drivername in ("postgresql", "postgres"):
        try:
            return create_engine(
                parsed.set(drivername="postgresql+psycopg"),  # psycopg 3
                connect_args={
                    "connect_timeout": CONNECT_TIMEOUT_SECONDS,
                    "options": f"-c lock_timeout={LOCK_WAIT_SECONDS * 1000}",
                },
                hide_parameters=True,
            )
        except (SQLAlchemyError, ImportError) as error:
            _refused(url, f"Cannot open the warehouse at {_shown(url)}", error)
    _refused(
        url, f"The {WAREHOUSE_VARIABLE} {_shown(url)!r} is neither sqlite:///path nor postgresql://"
    )


def _attach_and_lock_on_begin(engine: Engine, schema: str, schema_file: Path) -> None:
    """SQLite: attach the schema's file to each connection under the schema's name, and
    take the write lock as a transaction begins (SQLAlchemy's pysqlite recipe), so that
    what is read and deleted is what the insert replaces."""

    @event.listens_for(engine, "connect")
    def connect(dbapi_connection: Any, _: Any) -> None:
        dbapi_connection.isolation_level = None  # pysqlite emits no BEGIN of its own
        dbapi_connection.execute("ATTACH DATABASE ? AS ?", (str(schema_file), schema))

    @event.listens_for(engine, "begin")
    def begin(connection: Any) -> None:
        connection.exec_driver_sql("BEGIN IMMEDIATE")


def _refused(url: str, problem: str, error: BaseException | None = None) -> NoReturn:
    """Fail the attempt naming the warehouse, its password hidden: also from the driver's
    message and, if that still shows it, from the chained error (then not chained)."""
    secrets = _passwords(url)
    reason = "" if error is None else str(error.orig if isinstance(error, DBAPIError) else error)
    for secret in secrets:
        reason = reason.replace(secret, "***")
    message = f"{problem}: {reason}" if reason else problem
    chain = "".join(traceback.format_exception(error)) if error is not None else ""
    if error is None or any(secret in chain for secret in secrets):
        raise WarehouseUnavailableError(message) from None
    raise WarehouseUnavailableError(message) from error


def _shown(url: str) -> str:
    """The URL as it may be shown: any password replaced by ***."""
    try:
        return make_url(url).render_as_string(hide_password=True)
    except (ArgumentError, ValueError):
        scheme, separator, rest = url.partition("://")
        return f"{scheme}{separator}***@{rest.rpartition('@')[2]}" if "@" in rest else url


def _passwords(url: str) -> set[str]:
    """The password as written in the URL and as decoded (what a driver may echo)."""
    written = url.partition("://")[2].rpartition("@")[0].partition(":")[2]
    try:
        decoded = make_url(url).password
    except (ArgumentError, ValueError):
        decoded = None
    return {secret for secret in (written, decoded) if secret}
