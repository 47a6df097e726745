"""The cases scripts/deviations.py runs the main job on: the blueprint as teams write it
otherwise (the spellings: every promise kept) and as they break it (each deviation: one
promise broken, small and plausible). Each is a few exact edits of a copy."""

from __future__ import annotations

from dataclasses import dataclass

FLOW = "flows/data_pipeline.py"
WAREHOUSE = "flows/warehouse.py"
MANIFEST = "prefect.yaml"
OTHER_CHECKOUT = "{other checkout}"  # replaced by a pristine copy's path, relative to the copy

IO_DECORATOR = "@task(retries=IO_RETRIES, retry_delay_seconds=IO_RETRY_DELAY_SECONDS)"


@dataclass(frozen=True)
class Edit:
    """Replace `old` by `new` (exactly once) in `file` of the copy."""

    file: str
    old: str
    new: str


@dataclass(frozen=True)
class Case:
    """A changed blueprint, and the promise it breaks (none: it keeps every one)."""

    name: str
    edits: tuple[Edit, ...]
    breaks: str = ""


def flow(old: str, new: str) -> Edit:
    return Edit(FLOW, old, new)


def warehouse(old: str, new: str) -> Edit:
    return Edit(WAREHOUSE, old, new)


def manifest(old: str, new: str) -> Edit:
    return Edit(MANIFEST, old, new)


def io_task(name: str, decorator: str) -> Edit:
    """Give task `name` its own decorator (extract and load share one spelling)."""
    return flow(f"{IO_DECORATOR}\ndef {name}(", f"{decorator}\ndef {name}(")


LOAD_CALL = "    written = replace_batch(url, target_table, str(flow_run.id), records)\n"

CONTROL = Case("control (unmodified)", ())

# The manifest as a team writes it with Prefect's documented idioms: shared definitions
# and YAML anchors, defaults spelled out, job variables of the team's own (its job's
# environment too, PYTHONPATH included), the schedule and values spelled otherwise.
DEPLOYMENTS_AS_WRITTEN = """\
deployments:
  - name: production-etl
    description: Daily extract -> transform -> load of source metrics into the warehouse.
    entrypoint: flows/data_pipeline.py:enterprise_data_pipeline
    parameters:
      batch_size: 500
      source_url: https://api.metric-source.com/v2/metrics
      target_table: warehouse.analytics.daily_metrics
    work_pool:
      name: local-process-pool
      work_queue_name: null
      job_variables: {}
    schedules:
      - cron: "0 9 * * *"
        timezone: America/Chicago
        active: true
"""
MANIFEST_REWRITTEN = """\
definitions:
  schedules:
    nine_in_chicago: &nine_in_chicago
      cron: "00 09 ? * *"
      timezone: "America/Chicago"
      active: yes
  work_pools:
    local_processes: &local_processes
      name: local-process-pool
      work_queue_name: null
      job_variables:
        env:
          TEAM: data-platform
          PYTHONPATH: flows

deployments:
  - name: production-etl
    version: null
    tags: []
    description: Daily extract -> transform -> load of source metrics into the warehouse.
    entrypoint: ./flows/data_pipeline.py:run_pipeline
    parameters:
      batch_size: 500.0
      source_url: https://api.metric-source.com/v2/metrics
      target_table: warehouse.analytics.daily_metrics
    work_pool: *local_processes
    schedules:
      - *nine_in_chicago
    concurrency_limit: null
    enforce_parameter_schema: true
"""

SPELLINGS = Case(
    "spellings (every promise kept, written otherwise)",
    (
        # Other spellings of the same retry policy and of the same parameter types.
        flow("IO_RETRIES = 3", 'IO_RETRIES = int(os.environ.get("PIPELINE_IO_RETRIES", "3"))'),
        flow("from typing import", "import os\nfrom typing import"),
        flow("IO_RETRY_DELAY_SECONDS = 2", "IO_RETRY_DELAY_SECONDS = [2.0, 2.0, 2.0]"),
        flow("Field(gt=0)", "Field(ge=1)"),
        # Messages that say the same facts in other words, or with more detail.
        flow('"Loaded %d records into %s"', '"Wrote %s rows to table %s."'),
        flow(
            "    url = warehouse_url()\n",
            '    logger.info("Writing %d records to %s", len(records), target_table)\n'
            "    url = warehouse_url()\n",
        ),
        flow('"Extracting batch_size=%d records from %s"', '"Fetching %s rows from %s"'),
        flow(
            'it must be an http(s) URL with a host"',
            'it must be an http(s) URL with a host (scheme {parsed.scheme!r})"',
        ),
        # A decorator applied by hand; a task named otherwise; Python names changed while
        # every Prefect-visible name is kept; runs named by templates of the team's own.
        io_task("extract", ""),
        flow(
            "@task\ndef transform(",
            f"extract = task({IO_DECORATOR.removeprefix('@task(')}(extract)\n\n\n"
            "@task\ndef transform(",
        ),
        flow("@task\ndef transform(", '@task(name="Normalise records")\ndef transform('),
        flow(
            f"{IO_DECORATOR}\ndef load(",
            '@task(\n    name="load",\n    task_run_name="load-{target_table}",\n'
            "    retries=IO_RETRIES,\n    retry_delay_seconds=IO_RETRY_DELAY_SECONDS,\n)\n"
            "def write_batch(",
        ),
        flow(
            "loaded = load(transform(records), target_table)",
            "loaded = write_batch(transform(records), target_table)",
        ),
        flow("def enterprise_data_pipeline(", "def run_pipeline("),
        flow("    enterprise_data_pipeline()\n", "    run_pipeline()\n"),
        flow(
            '    name="Enterprise Data Pipeline",\n',
            '    name="Enterprise Data Pipeline",\n    flow_run_name="etl-{target_table}",\n',
        ),
        # The manifest written otherwise, whole.
        Edit(MANIFEST, DEPLOYMENTS_AS_WRITTEN, MANIFEST_REWRITTEN),
    ),
)

DEVIATIONS = (
    # The guide's promises: retries, delays, schedule, names, defaults.
    Case("retries", (flow("IO_RETRIES = 3", "IO_RETRIES = 2"),), "3 retries"),
    Case(
        "delay-longer",
        (flow("IO_RETRY_DELAY_SECONDS = 2", "IO_RETRY_DELAY_SECONDS = 3"),),
        "2 s between retries",
    ),
    Case(
        "delay-shorter",
        (flow("IO_RETRY_DELAY_SECONDS = 2", "IO_RETRY_DELAY_SECONDS = 1"),),
        "2 s between retries",
    ),
    Case("no-retry-on-extract", (io_task("extract", "@task"),), "extract retries"),
    Case(
        "load-fewer-retries",
        (io_task("load", "@task(retries=1, retry_delay_seconds=IO_RETRY_DELAY_SECONDS)"),),
        "load retries 3 times",
    ),
    Case("no-retry-on-load", (io_task("load", "@task"),), "load retries"),
    Case(
        "load-delay",
        (io_task("load", "@task(retries=IO_RETRIES, retry_delay_seconds=5)"),),
        "load's 2 s delay",
    ),
    Case(
        "transform-retries",
        (flow("@task\ndef transform(", f"{IO_DECORATOR}\ndef transform("),),
        "transform is pure: no retries",
    ),
    Case("cron", (manifest('"0 9 * * *"', '"0 10 * * *"'),), "daily at 9"),
    Case("timezone", (manifest("timezone: America/Chicago", "timezone: UTC"),), "in Chicago time"),
    Case("schedule-inactive", (manifest("active: true", "active: false"),), "an active schedule"),
    Case(
        "flow-name",
        (flow('name="Enterprise Data Pipeline"', 'name="Enterprise Pipeline"'),),
        "the flow's name",
    ),
    Case(
        "deployment-name",
        (manifest("- name: production-etl", "- name: production-etl-v2"),),
        "the deployment's name",
    ),
    Case("work-pool", (manifest("name: local-process-pool", "name: default-pool"),), "the pool"),
    Case(
        "flow-default",
        (flow("DEFAULT_BATCH_SIZE = 500", "DEFAULT_BATCH_SIZE = 400"),),
        "batch_size defaults to 500",
    ),
    Case(
        "manifest-default",
        (manifest("batch_size: 500", "batch_size: 400"),),
        "the deployment's defaults",
    ),
    Case(
        "manifest-table-differs-from-flow",
        (
            manifest(
                "target_table: warehouse.analytics.daily_metrics",
                "target_table: warehouse.analytics.metrics",
            ),
        ),
        "the deployment's defaults are the flow's",
    ),
    Case(
        "batch-size-ignored",
        (
            flow(
                "records = extract(source_url, batch_size)",
                "records = extract(source_url, DEFAULT_BATCH_SIZE)",
            ),
        ),
        "an override reaches the flow",
    ),
    Case(
        "table-ignored",
        (
            flow(
                "loaded = load(transform(records), target_table)",
                "loaded = load(transform(records), DEFAULT_TARGET_TABLE)",
            ),
        ),
        "an override reaches the load",
    ),
    Case(
        "failure-swallowed",
        (
            flow(
                'if parsed.scheme not in ("http", "https") or not parsed.hostname:',
                'if parsed.scheme not in ("http", "https", "invalid") or not parsed.hostname:',
            ),
        ),
        "invalid://url fails",
    ),
    Case(
        "load-failure-swallowed",
        (flow("if schema == UNAVAILABLE_SCHEMA:", "if schema == 'never':"),),
        "the reserved schema is refused",
    ),
    Case(
        "unreachable-host-fetched",
        (flow('if parsed.hostname.endswith(".invalid"):', "if False:"),),
        "an unreachable source is refused where first seen",
    ),
    Case(
        "batch-size-not-validated",
        (flow("Annotated[int, Field(gt=0)]", "int"),),
        "batch_size > 0, checked when the run is created",
    ),
    Case(
        "table-not-validated",
        (flow("Annotated[str, Field(pattern=TABLE_PATTERN)]", "str"),),
        "the table's shape, checked when the run is created",
    ),
    Case(
        "table-pattern-unanchored",
        (flow(r'\w*$"', r'\w*"'),),
        "the table pattern anchored at its end",
    ),
    Case(
        "pull-step-elsewhere",
        (
            flow("IO_RETRIES = 3", "IO_RETRIES = 2"),
            # Templated, so only the runs can tell (an absolute path the pre-deploy check
            # names: pull-step-absolute).
            manifest(
                'directory: "{{ project-root.stdout }}"',
                f'directory: "{{{{ project-root.stdout }}}}/{OTHER_CHECKOUT}"',
            ),
        ),
        "the runs execute the deployed checkout's flow",
    ),
    Case(
        "pull-step-absolute",
        (manifest('directory: "{{ project-root.stdout }}"', 'directory: "/home/me/blueprint"'),),
        "the manifest works from any checkout",
    ),
    Case(
        "job-variable-misspelt",
        (manifest("job_variables: {}", "job_variables: {workdir: /tmp}"),),
        "job variables the pool's template knows",
    ),
    Case(
        "no-local-run",
        (flow('if __name__ == "__main__":\n    enterprise_data_pipeline()', ""),),
        "python flows/data_pipeline.py runs it",
    ),
    # What the pipeline does, not what it says.
    Case(
        "raw-records-loaded",
        (
            flow(
                "loaded = load(transform(records), target_table)",
                "transform(records)\n    loaded = load(records, target_table)",
            ),
        ),
        "transformed records are loaded",
    ),
    Case(
        "wrong-transform",
        (flow('"normalized": record["value"] / 100', '"normalized": record["value"] / 10'),),
        "normalized = value / 100",
    ),
    Case(
        "source-host-as-written",
        (flow('"source": parsed.hostname,', '"source": parsed.netloc,'),),
        "each record carries the source's host",
    ),
    Case("load-reports-zero", (flow("    return written\n", "    return 0\n"),), "the summary"),
    Case(
        "logs-before-write",
        (
            flow(
                '    schema = target_table.split(".")[1]\n',
                '    logger.info("Loaded %d records into %s", len(records), target_table)\n'
                '    schema = target_table.split(".")[1]\n',
            ),
        ),
        "Loaded is logged once the warehouse committed",
    ),
    Case(
        "burns-a-retry",
        (
            flow(
                "from prefect.runtime import flow_run",
                "from prefect.runtime import flow_run, task_run",
            ),
            flow(
                '    logger.info("Extracting batch_size',
                "    if task_run.run_count == 1:\n"
                '        raise SourceUnavailableError("a flaky first attempt")\n'
                '    logger.info("Extracting batch_size',
            ),
        ),
        "a healthy run takes one attempt",
    ),
    Case(
        "batch-size-capped",
        (
            flow(
                "records = extract(source_url, batch_size)",
                "records = extract(source_url, min(batch_size, DEFAULT_BATCH_SIZE))",
            ),
        ),
        "any batch size the contract allows",
    ),
    Case(
        "slow-run",
        (
            flow("from typing import", "import time\nfrom typing import"),
            flow(
                '    logger.info("Transformed %d records", len(transformed))',
                '    time.sleep(8)\n    logger.info("Transformed %d records", len(transformed))',
            ),
        ),
        "a run takes the guide's 3-5 seconds",
    ),
    Case(
        "cached-load",
        (
            flow(
                "from prefect.runtime import",
                "from prefect.cache_policies import INPUTS\nfrom prefect.runtime import",
            ),
            io_task("load", IO_DECORATOR.removesuffix(")") + ", cache_policy=INPUTS)"),
        ),
        "each run loads its own batch",
    ),
    Case(
        "retries-only-for-the-harness-inputs",
        (
            io_task(
                "load",
                IO_DECORATOR.removesuffix(")")
                + ',\n    retry_condition_fn=lambda t, r, s: "invalid" in (s.message or ""))',
            ),
        ),
        "a warehouse that refuses is retried",
    ),
    # The warehouse (README's contract): one transaction, its own batch only, its own
    # table only, the configured one or else the embedded one, never a password shown.
    Case(
        "load-not-in-one-transaction",
        (
            warehouse(
                "        with engine.begin() as connection:",
                "        with engine.connect() as connection:",
            ),
            warehouse(
                "                connection.execute(\n"
                "                    table.insert(),\n"
                '                    [{"batch_id": batch_id, **{c: row[c] for c in COLUMNS}}'
                " for row in rows],\n"
                "                )",
                "                connection.commit()\n"
                "                for row in rows:\n"
                "                    connection.execute(\n"
                "                        table.insert(),\n"
                "                        "
                '[{"batch_id": batch_id, **{c: row[c] for c in COLUMNS}}],\n'
                "                    )\n"
                "                    connection.commit()",
            ),
        ),
        "a failed load leaves no partial rows",
    ),
    Case(
        "replaces-the-whole-table",
        (
            warehouse(
                "connection.execute(table.delete().where(table.c.batch_id == batch_id))",
                "connection.execute(table.delete())",
            ),
        ),
        "runs into one table each keep their own batch",
    ),
    Case(
        "keyed-by-the-root-run",
        (
            flow(
                LOAD_CALL,
                "    batch = str(flow_run.root_flow_run_id or flow_run.id)\n"
                "    written = replace_batch(url, target_table, batch, records)\n",
            ),
        ),
        "a batch is a flow run, nested or not",
    ),
    Case(
        "copies-into-a-staging-table",
        (
            flow(
                LOAD_CALL,
                LOAD_CALL
                + '    replace_batch(url, "warehouse.staging.last_batch", str(flow_run.id), '
                "records)\n",
            ),
        ),
        "a run's rows stay out of other tables",
    ),
    Case(
        "falls-back-to-the-embedded-warehouse",
        (
            flow(
                LOAD_CALL,
                "    try:\n"
                "        written = replace_batch(url, target_table, str(flow_run.id), records)\n"
                "    except WarehouseUnavailableError:\n"
                '        embedded = f"sqlite:///{EMBEDDED_WAREHOUSE}"\n'
                "        written = replace_batch(\n"
                "            embedded, target_table, str(flow_run.id), records\n"
                "        )\n",
            ),
            flow(
                "from warehouse import WarehouseUnavailableError,",
                "from warehouse import EMBEDDED_WAREHOUSE, WarehouseUnavailableError,",
            ),
        ),
        "a configured warehouse never falls back",
    ),
    Case(
        "shows-the-password",
        (
            warehouse(
                "        return make_url(url).render_as_string(hide_password=True)",
                "        return url",
            ),
            warehouse('        reason = reason.replace(secret, "***")', "        pass"),
        ),
        "the warehouse's password hidden",
    ),
    Case(
        "embedded-warehouse-elsewhere",
        (
            warehouse(
                'EMBEDDED_WAREHOUSE = Path(__file__).resolve().parent.parent / "warehouse" / '
                '"warehouse.db"',
                'EMBEDDED_WAREHOUSE = Path(__file__).resolve().parent / "warehouse.db"',
            ),
        ),
        "the embedded warehouse is the project's warehouse/ folder",
    ),
    Case(
        "reads-another-variable",
        (warehouse('WAREHOUSE_VARIABLE = "warehouse_url"', 'WAREHOUSE_VARIABLE = "warehouse"'),),
        "the warehouse_url Variable names the warehouse",
    ),
)
