"""The blueprint's flow: "Enterprise Data Pipeline" (extract -> transform -> load).

No machine this runs on reaches the internet, so `extract` simulates the fetch: it
validates the source URL the way a real HTTP client would (scheme and host), treats
hosts under the reserved `.invalid` domain as unreachable, and otherwise yields
`batch_size` deterministic synthetic records. `invalid://url` therefore fails inside
the task, where the retry policy applies, exactly as a refused fetch would.

`load` writes the batch into a real warehouse, in one transaction, replacing whatever
an earlier attempt of the same flow run wrote (the batch is the flow run: its id keys the
rows), so a retry or a re-run never duplicates rows and a failed load leaves none. The
warehouse is the one the Prefect Variable `warehouse_url` names (`sqlite:///path/x.db`
or `postgresql://user:password@host:port/database`), else the embedded one: SQLite files
in the project's `warehouse/` folder. In SQLite each schema of
`target_table = "warehouse.<schema>.<table>"` is a database file of its own beside the
main one (`warehouse.<schema>.db`), attached under the schema's name; in PostgreSQL it is
a schema. The warehouse refuses the reserved `invalid` schema (`warehouse.invalid.<table>`),
so the retry policy of `load` can be seen on a real run.

Run it once locally against the configured server with `python flows/data_pipeline.py`.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Sequence
from contextlib import closing
from pathlib import Path
from typing import Annotated, Any, Protocol
from urllib.parse import urlparse

from prefect import flow, get_run_logger, task
from prefect.runtime import flow_run
from prefect.variables import Variable
from pydantic import Field

DEFAULT_BATCH_SIZE = 500
DEFAULT_SOURCE_URL = "https://api.metric-source.com/v2/metrics"
DEFAULT_TARGET_TABLE = "warehouse.analytics.daily_metrics"

# The guide's promise for tasks that touch the outside world: a transient fault in the
# source or the warehouse must not fail a nightly batch. `transform` is pure and
# deterministic, so retrying it would only repeat the same error 6 s later.
IO_RETRIES = 3
IO_RETRY_DELAY_SECONDS = 2

TABLE_PATTERN = r"^[A-Za-z_]\w*\.[A-Za-z_]\w*\.[A-Za-z_]\w*$"
UNAVAILABLE_SCHEMA = "invalid"  # reserved, like the .invalid domain: never reachable

WAREHOUSE_VARIABLE = "warehouse_url"
EMBEDDED_WAREHOUSE = Path(__file__).resolve().parent.parent / "warehouse" / "warehouse.db"
# How long a write waits for another writer before the attempt fails (and is retried).
LOCK_WAIT_SECONDS = 5

COLUMNS = ("batch_id", "id", "metric", "value", "normalized", "bucket", "source")
Record = dict[str, Any]


class SourceUnavailableError(RuntimeError):
    """The source could not be fetched (bad scheme, no host, refused connection)."""


class WarehouseUnavailableError(RuntimeError):
    """The warehouse refused the write."""


@task(retries=IO_RETRIES, retry_delay_seconds=IO_RETRY_DELAY_SECONDS)
def extract(source_url: str, batch_size: int) -> list[Record]:
    """Fetch `batch_size` records from `source_url` (simulated, deterministic)."""
    logger = get_run_logger()
    parsed = urlparse(source_url)
    if parsed.scheme not in ("http", "https") or not parsed.hostname:
        raise SourceUnavailableError(
            f"Cannot fetch from source_url={source_url!r}: it must be an http(s) URL with a host"
        )
    if parsed.hostname.endswith(".invalid"):
        # RFC 6761: names under .invalid never resolve; a real fetch would fail like this.
        raise SourceUnavailableError(
            f"Cannot reach source_url={source_url!r}: host {parsed.hostname!r} does not resolve"
        )
    logger.info("Extracting batch_size=%d records from %s", batch_size, source_url)
    records = [
        {
            "id": i,
            "metric": f"metric_{i % 10}",
            "value": (i * 37) % 1000 / 10,
            "source": parsed.hostname,
        }
        for i in range(batch_size)
    ]
    logger.info("Extracted %d records from %s", len(records), parsed.hostname)
    return records


@task
def transform(records: list[Record]) -> list[Record]:
    """Scale each value to the 0-1 range and tag it with its metric bucket."""
    logger = get_run_logger()
    transformed = [
        {**record, "normalized": record["value"] / 100, "bucket": record["metric"][-1]}
        for record in records
    ]
    logger.info("Transformed %d records", len(transformed))
    return transformed


class Warehouse(Protocol):
    errors: tuple[type[Exception], ...]  # how its driver says it refused

    def replace_batch(self, schema: str, table: str, batch_id: str, rows: list[Record]) -> int:
        """Make `rows` the batch's whole content of `schema.table`, in one transaction."""
        ...


class SqliteWarehouse:
    """SQLite files: the main one, and one per schema beside it, attached by name."""

    errors = (sqlite3.Error, OSError)

    def __init__(self, path: Path) -> None:
        self.path = path

    def schema_file(self, schema: str) -> Path:
        return self.path.with_name(f"{self.path.stem}.{schema}{self.path.suffix}")

    def replace_batch(self, schema: str, table: str, batch_id: str, rows: list[Record]) -> int:
        with closing(sqlite3.connect(self.path, timeout=LOCK_WAIT_SECONDS)) as connection:
            connection.isolation_level = None  # transactions are begun and ended here
            connection.execute("ATTACH DATABASE ? AS ?", (str(self.schema_file(schema)), schema))
            connection.execute("BEGIN IMMEDIATE")
            try:
                name = f'"{schema}"."{table}"'
                connection.execute(
                    f"CREATE TABLE IF NOT EXISTS {name} (batch_id TEXT NOT NULL, "
                    "id INTEGER NOT NULL, metric TEXT, value REAL, normalized REAL, "
                    "bucket TEXT, source TEXT, PRIMARY KEY (batch_id, id))"
                )
                connection.execute(f"DELETE FROM {name} WHERE batch_id = ?", (batch_id,))
                connection.executemany(
                    f"INSERT INTO {name} VALUES ({', '.join('?' * len(COLUMNS))})",
                    [_values(batch_id, row) for row in rows],
                )
                connection.execute("COMMIT")
            except BaseException:
                connection.execute("ROLLBACK")
                raise
        return len(rows)


class PostgresWarehouse:
    """A PostgreSQL database: a schema per schema."""

    def __init__(self, url: str) -> None:
        import psycopg  # only the PostgreSQL warehouse needs it

        self.url = url
        self.errors = (psycopg.Error, OSError)

    def replace_batch(self, schema: str, table: str, batch_id: str, rows: list[Record]) -> int:
        import psycopg

        options = f"-c lock_timeout={LOCK_WAIT_SECONDS * 1000}"
        with psycopg.connect(self.url, connect_timeout=10, options=options) as connection:
            name = f'"{schema}"."{table}"'
            # One writer at a time creates the schema and the table.
            connection.execute("SELECT pg_advisory_xact_lock(hashtext(%s))", (name,))
            connection.execute(f'CREATE SCHEMA IF NOT EXISTS "{schema}"')
            connection.execute(
                f"CREATE TABLE IF NOT EXISTS {name} (batch_id TEXT NOT NULL, "
                "id INTEGER NOT NULL, metric TEXT, value DOUBLE PRECISION, "
                "normalized DOUBLE PRECISION, bucket TEXT, source TEXT, "
                "PRIMARY KEY (batch_id, id))"
            )
            connection.execute(f"DELETE FROM {name} WHERE batch_id = %s", (batch_id,))
            with connection.cursor() as cursor:
                cursor.executemany(
                    f"INSERT INTO {name} VALUES ({', '.join(['%s'] * len(COLUMNS))})",
                    [_values(batch_id, row) for row in rows],
                )
        return len(rows)


def _values(batch_id: str, row: Record) -> Sequence[Any]:
    return (batch_id, *(row[column] for column in COLUMNS[1:]))


def warehouse_url() -> str:
    """The configured warehouse (the `warehouse_url` Variable), else the embedded one."""
    configured = Variable.get(WAREHOUSE_VARIABLE, default=None)
    if configured:
        return str(configured)
    EMBEDDED_WAREHOUSE.parent.mkdir(parents=True, exist_ok=True)
    return f"sqlite:///{EMBEDDED_WAREHOUSE}"


def open_warehouse(url: str) -> Warehouse:
    if url.startswith("sqlite:///"):
        return SqliteWarehouse(Path(url.removeprefix("sqlite:///")))
    if url.startswith(("postgresql://", "postgres://")):
        return PostgresWarehouse(url)
    raise WarehouseUnavailableError(
        f"The {WAREHOUSE_VARIABLE} {_without_password(url)!r} is neither sqlite:/// nor postgresql://"
    )


def _without_password(url: str) -> str:
    parsed = urlparse(url)
    if parsed.password:
        return url.replace(f":{parsed.password}@", ":***@")
    return url


@task(retries=IO_RETRIES, retry_delay_seconds=IO_RETRY_DELAY_SECONDS)
def load(records: list[Record], target_table: str) -> int:
    """Write the records to `target_table` as this flow run's batch; how many were written."""
    logger = get_run_logger()
    _, schema, table = target_table.split(".")
    if schema == UNAVAILABLE_SCHEMA:
        raise WarehouseUnavailableError(
            f"Cannot write to target_table={target_table!r}: schema {schema!r} is unavailable"
        )
    url = warehouse_url()
    warehouse = open_warehouse(url)
    try:
        written = warehouse.replace_batch(schema, table, str(flow_run.id), records)
    except warehouse.errors as error:
        raise WarehouseUnavailableError(
            f"Cannot write to target_table={target_table!r}: the warehouse at "
            f"{_without_password(url)} refused: {error}"
        ) from error
    logger.info("Loaded %d records into %s", written, target_table)
    return written


@flow(
    name="Enterprise Data Pipeline",
    log_prints=True,
    # The summary, readable by any process that sees the same storage (JSON needs no code).
    persist_result=True,
    result_serializer="json",
)
def enterprise_data_pipeline(
    batch_size: Annotated[int, Field(gt=0)] = DEFAULT_BATCH_SIZE,
    source_url: str = DEFAULT_SOURCE_URL,
    target_table: Annotated[str, Field(pattern=TABLE_PATTERN)] = DEFAULT_TARGET_TABLE,
) -> dict[str, Any]:
    """Extract metrics from a source API, normalise them and load them into the warehouse."""
    logger = get_run_logger()
    logger.info(
        "Starting pipeline: batch_size=%d source_url=%s target_table=%s",
        batch_size,
        source_url,
        target_table,
    )
    records = extract(source_url, batch_size)
    loaded = load(transform(records), target_table)
    summary = {"records": loaded, "target_table": target_table}
    logger.info("Pipeline finished: loaded %d records into %s", loaded, target_table)
    return summary


if __name__ == "__main__":
    enterprise_data_pipeline()
