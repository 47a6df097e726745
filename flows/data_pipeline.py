"""Enterprise Data Pipeline: extract metrics from a source API, normalise them, and load
them into the warehouse (extract -> transform -> load).

Run it once locally, against the Prefect server your profile points at:

    python flows/data_pipeline.py

`load` writes into the warehouse the Prefect Variable `warehouse_url` names
(`sqlite:///path/warehouse.db` or `postgresql://user:password@host:port/database`), else
into the embedded SQLite file `warehouse/warehouse.db` under the project root, so the
example runs with no set-up (see warehouse.py beside this file).
"""

from __future__ import annotations

from typing import Annotated, Any
from urllib.parse import urlparse

from prefect import flow, get_run_logger, task
from prefect.runtime import flow_run
from pydantic import Field

# warehouse.py, beside this file (Python and Prefect put the flow's folder on sys.path).
from warehouse import WarehouseUnavailableError, replace_batch, warehouse_url

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

Record = dict[str, Any]


class SourceUnavailableError(RuntimeError):
    """The source could not be fetched (bad scheme, no host, refused connection)."""


@task(retries=IO_RETRIES, retry_delay_seconds=IO_RETRY_DELAY_SECONDS)
def extract(source_url: str, batch_size: int) -> list[Record]:
    """Fetch `batch_size` records from `source_url`.

    The example's source is simulated: the URL is checked as an HTTP client would check it
    (http(s), a host; hosts under the reserved `.invalid` domain never resolve), then
    `batch_size` deterministic records are made up. A URL that cannot be fetched fails
    inside the task, so the retry policy applies to it as to a real refused fetch.
    """
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


@task(retries=IO_RETRIES, retry_delay_seconds=IO_RETRY_DELAY_SECONDS)
def load(records: list[Record], target_table: str) -> int:
    """Write the records to `target_table` as this flow run's batch; how many were written.

    The batch is keyed by the flow run's id and written in one transaction that first
    deletes what an earlier attempt of the same run wrote: a failed load leaves no partial
    rows, and a retry or a re-run never duplicates them.
    """
    logger = get_run_logger()
    schema = target_table.split(".")[1]
    if schema == UNAVAILABLE_SCHEMA:
        raise WarehouseUnavailableError(
            f"Cannot write to target_table={target_table!r}: schema {schema!r} is unavailable"
        )
    url = warehouse_url()
    written = replace_batch(url, target_table, str(flow_run.id), records)
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
