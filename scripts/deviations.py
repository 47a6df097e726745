"""Prove the harness goes red when the blueprint breaks a promise, and only then.

Each case copies the blueprint (flows/, prefect.yaml) to a scratch folder, edits the copy,
and runs the named tests against it with --prefect-project-dir:

- first the control: the unmodified copy, which must pass (a copy that cannot run would
  make every deviation look caught);
- then the spellings: every promise kept in another spelling (2.0 for 2, a value from a
  setting, a list of delays, ge=1 for gt=0, another cron spelling, other log wording, a
  decorator applied by hand), all at once, which must pass too;
- then each deviation, which counts as caught only when pytest ran and tests failed (not
  a usage, collection or set-up error) and the tests named to catch it are among those
  that failed.

    .venv/bin/python scripts/deviations.py                 # everything (CI runs this)
    .venv/bin/python scripts/deviations.py cron timezone   # the control and some cases
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time
import xml.etree.ElementTree as ElementTree
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

from blueprint_harness.guide.commands import copy_project

ROOT = Path(__file__).resolve().parent.parent
FLOW = "flows/data_pipeline.py"
MANIFEST = "prefect.yaml"
PHASE1 = "tests/test_phase1_local_setup.py"
PHASE2 = "tests/test_phase2_deployment.py"
PHASE3 = "tests/test_phase3_triggers.py"
BAD_INPUT = "tests/test_bad_input.py"
UNIT_FLOW = "tests/unit/test_flow_parameters.py"
UI = "tests/test_ui.py"
TROUBLESHOOTING = "tests/test_troubleshooting.py"
MANIFEST_CHECK = "tests/test_manifest.py"
REDEPLOY = "tests/test_redeploy.py"
WAREHOUSE_FAULTS = "tests/test_warehouse_faults.py"
# Two cases at a time: each is mostly waiting on its runs, so two share the cores well.
AT_ONCE = 2
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
    """A changed blueprint and the tests that must judge it."""

    name: str
    edits: tuple[Edit, ...]
    caught_by: tuple[str, ...] = ()  # test ids (a prefix selects the parametrized ones)
    tests: tuple[str, ...] = ()  # what to run: by default the tests of `caught_by`

    @property
    def selection(self) -> tuple[str, ...]:
        chosen = self.tests or self.caught_by
        return tuple(dict.fromkeys(test.split("[")[0] for test in chosen))


def flow(old: str, new: str) -> Edit:
    return Edit(FLOW, old, new)


def manifest(old: str, new: str) -> Edit:
    return Edit(MANIFEST, old, new)


def io_task(name: str, decorator: str) -> Edit:
    """Give task `name` its own decorator (extract and load share one spelling)."""
    return flow(f"{IO_DECORATOR}\ndef {name}(", f"{decorator}\ndef {name}(")


RETRY_COUNT = f"{PHASE3}::test_a_failing_task_is_retried_three_times_then_fails"
RETRY_DELAY = f"{PHASE3}::test_retries_are_two_seconds_apart"
POLICIES = f"{PHASE3}::test_each_task_runs_with_its_retry_policy"
STATE_PATH = f"{PHASE3}::test_run_follows_the_guides_state_path"
BEHAVIOUR = f"{PHASE3}::test_run_behaviour_shows_its_parameters"
SOURCE = f"{PHASE3}::test_run_executed_the_projects_own_flow_exactly_once"
SCHEDULE = f"{PHASE2}::test_schedule_is_daily_at_9_in_chicago_and_active"
SCHEDULER = f"{PHASE2}::test_scheduler_creates_upcoming_runs_at_9_chicago_time"
DEFAULTS = f"{PHASE2}::test_deployment_runs_the_flow_on_the_pool_with_the_default_parameters"
API_REFUSES = f"{BAD_INPUT}::test_the_api_refuses_bad_parameters_naming_the_field"
EDGES = f"{BAD_INPUT}::test_the_edges_of_what_is_allowed_are_accepted_and_load_every_row"
DATA = f"{PHASE3}::test_a_completed_run_loaded_exactly_its_rows_transformed"
AGREE = f"{PHASE3}::test_the_persisted_result_the_final_log_line_and_the_table_agree"
ONCE = f"{PHASE3}::test_a_completed_run_ran_each_task_exactly_once"
DURATION = f"{PHASE3}::test_a_completed_run_takes_the_time_the_guide_gives"
# The UI's timeline: the failing task's bar as long as its retries' waits (its log lines
# announce retries whatever their delay, so only the timeline sees them shortened).
TIMELINE = f"{UI}::test_the_failing_run_page_shows_failed_each_retry_and_the_timeline"
NOTHING_WRITTEN = f"{PHASE3}::test_a_failed_run_wrote_nothing_and_claims_no_write"
FLOW_REFUSES = f"{UNIT_FLOW}::test_bad_values_are_rejected_naming_the_parameter"

CONTROL = Case(
    "control (unmodified)",
    (),
    tests=(MANIFEST_CHECK, PHASE1, PHASE2, PHASE3, UI, BAD_INPUT, TROUBLESHOOTING, UNIT_FLOW),
)

SPELLINGS = Case(
    "spellings (every promise kept, written otherwise)",
    (
        flow("IO_RETRIES = 3", 'IO_RETRIES = int(os.environ.get("PIPELINE_IO_RETRIES", "3"))'),
        flow("from typing import", "import os\nfrom typing import"),
        flow("IO_RETRY_DELAY_SECONDS = 2", "IO_RETRY_DELAY_SECONDS = [2.0, 2.0, 2.0]"),
        flow("Field(gt=0)", "Field(ge=1)"),
        flow('"Loaded %d records into %s"', '"Wrote %s rows to table %s."'),
        flow(
            "    url = warehouse_url()\n",
            '    logger.info("Writing %d records to %s", len(records), target_table)\n'
            "    url = warehouse_url()\n",
        ),
        flow('"Extracting batch_size=%d records from %s"', '"Fetching %s rows from %s"'),
        io_task("extract", ""),
        flow(
            "@task\ndef transform(",
            f"extract = task({IO_DECORATOR.removeprefix('@task(')}(extract)\n\n\n"
            "@task\ndef transform(",
        ),
        flow("@task\ndef transform(", '@task(name="Normalise records")\ndef transform('),
        manifest('cron: "0 9 * * *"', 'cron: "00 09 ? * *"'),
        manifest("entrypoint: flows/", "entrypoint: ./flows/"),
        manifest("timezone: America/Chicago", 'timezone: "America/Chicago"'),
        manifest("active: true", "active: yes"),
        manifest("batch_size: 500", "batch_size: 500.0"),
    ),
    tests=(MANIFEST_CHECK, PHASE1, PHASE2, PHASE3, UI, BAD_INPUT, TROUBLESHOOTING, UNIT_FLOW),
)

DEVIATIONS = (
    Case("retries", (flow("IO_RETRIES = 3", "IO_RETRIES = 2"),), (RETRY_COUNT, POLICIES)),
    Case(
        "delay-longer",
        (flow("IO_RETRY_DELAY_SECONDS = 2", "IO_RETRY_DELAY_SECONDS = 3"),),
        (RETRY_DELAY, POLICIES),
    ),
    Case(
        "delay-shorter",
        (flow("IO_RETRY_DELAY_SECONDS = 2", "IO_RETRY_DELAY_SECONDS = 1"),),
        (RETRY_DELAY, POLICIES, TIMELINE),
    ),
    Case("no-retry-on-extract", (io_task("extract", "@task"),), (RETRY_COUNT, POLICIES)),
    Case(
        "load-fewer-retries",
        (io_task("load", "@task(retries=1, retry_delay_seconds=IO_RETRY_DELAY_SECONDS)"),),
        (f"{RETRY_COUNT}[failing-table]", POLICIES),
    ),
    Case("no-retry-on-load", (io_task("load", "@task"),), (RETRY_COUNT, POLICIES)),
    Case(
        "load-delay",
        (io_task("load", "@task(retries=IO_RETRIES, retry_delay_seconds=5)"),),
        (f"{RETRY_DELAY}[failing-table]", POLICIES),
    ),
    Case(
        "transform-retries",
        (flow("@task\ndef transform(", f"{IO_DECORATOR}\ndef transform("),),
        (POLICIES,),
    ),
    Case("cron", (manifest('"0 9 * * *"', '"0 10 * * *"'),), (SCHEDULE, SCHEDULER)),
    Case(
        "timezone",
        (manifest("timezone: America/Chicago", "timezone: UTC"),),
        (SCHEDULE, SCHEDULER),
    ),
    Case("schedule-inactive", (manifest("active: true", "active: false"),), (SCHEDULE,)),
    Case(
        "flow-name",
        (flow('name="Enterprise Data Pipeline"', 'name="Enterprise Pipeline"'),),
        (
            f"{PHASE1}::test_local_run_is_completed_in_the_api_under_the_flow_name",
            f"{PHASE2}::test_deployment_is_registered_and_listed",
        ),
    ),
    Case(
        "deployment-name",
        (manifest("- name: production-etl", "- name: production-etl-v2"),),
        (f"{PHASE2}::test_manifest_declares_the_deployment_the_guide_deploys",),
    ),
    Case(
        "work-pool",
        (manifest("name: local-process-pool", "name: default-pool"),),
        (DEFAULTS,),
    ),
    Case(
        "flow-default",
        (flow("DEFAULT_BATCH_SIZE = 500", "DEFAULT_BATCH_SIZE = 400"),),
        (DEFAULTS, f"{UNIT_FLOW}::test_no_parameters_means_the_guides_defaults"),
    ),
    Case("manifest-default", (manifest("batch_size: 500", "batch_size: 400"),), (DEFAULTS,)),
    Case(
        "manifest-table-differs-from-flow",
        (
            manifest(
                "target_table: warehouse.analytics.daily_metrics",
                "target_table: warehouse.analytics.metrics",
            ),
        ),
        (DEFAULTS,),
    ),
    Case(
        "batch-size-ignored",
        (
            flow(
                "records = extract(source_url, batch_size)",
                "records = extract(source_url, DEFAULT_BATCH_SIZE)",
            ),
        ),
        (BEHAVIOUR,),
    ),
    Case(
        "table-ignored",
        (
            flow(
                "loaded = load(transform(records), target_table)",
                "loaded = load(transform(records), DEFAULT_TARGET_TABLE)",
            ),
        ),
        (BEHAVIOUR,),
    ),
    Case(
        "failure-swallowed",
        (
            flow(
                'if parsed.scheme not in ("http", "https") or not parsed.hostname:',
                'if parsed.scheme not in ("http", "https", "invalid") or not parsed.hostname:',
            ),
        ),
        (f"{STATE_PATH}[failing-url]",),
    ),
    Case(
        "load-failure-swallowed",
        (flow("if schema == UNAVAILABLE_SCHEMA:", "if schema == 'never':"),),
        (f"{STATE_PATH}[failing-table]",),
    ),
    Case(
        "unreachable-host-fetched",
        (flow('if parsed.hostname.endswith(".invalid"):', "if False:"),),
        (
            f"{BAD_INPUT}::test_an_unfetchable_source_url_fails_in_extract_after_its_retries_naming_it",
        ),
    ),
    Case(
        "batch-size-not-validated",
        (flow("Annotated[int, Field(gt=0)]", "int"),),
        (f"{API_REFUSES}[zero]", f"{FLOW_REFUSES}[zero]"),
    ),
    Case(
        "table-not-validated",
        (flow("Annotated[str, Field(pattern=TABLE_PATTERN)]", "str"),),
        (f"{API_REFUSES}[table-not-qualified]", f"{FLOW_REFUSES}[table-not-qualified]"),
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
        (SOURCE,),
    ),
    Case(
        "pull-step-absolute",
        (manifest('directory: "{{ project-root.stdout }}"', 'directory: "/home/me/blueprint"'),),
        (f"{MANIFEST_CHECK}::test_the_blueprints_manifest_passes_the_check_in_seconds",),
    ),
    # What the pipeline does, not what it says (issue 17): each passed the harness before.
    Case(
        "raw-records-loaded",
        (
            flow(
                "loaded = load(transform(records), target_table)",
                "transform(records)\n    loaded = load(records, target_table)",
            ),
        ),
        (DATA,),
    ),
    Case(
        "wrong-transform",
        (flow('"normalized": record["value"] / 100', '"normalized": record["value"] / 10'),),
        (DATA,),
    ),
    Case("load-reports-zero", (flow("    return written\n", "    return 0\n"),), (AGREE,)),
    Case(
        "logs-before-write",
        (
            flow(
                '    _, schema, table = target_table.split(".")\n',
                '    logger.info("Loaded %d records into %s", len(records), target_table)\n'
                '    _, schema, table = target_table.split(".")\n',
            ),
        ),
        (f"{NOTHING_WRITTEN}[failing-table]",),
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
        (ONCE,),
    ),
    Case(
        "table-pattern-unanchored",
        (flow(r'\w*$"', r'\w*"'),),
        (f"{API_REFUSES}[table-four-parts]", f"{FLOW_REFUSES}[table-trailing-garbage]"),
    ),
    Case(
        "batch-size-capped",
        (
            flow(
                "records = extract(source_url, batch_size)",
                "records = extract(source_url, min(batch_size, DEFAULT_BATCH_SIZE))",
            ),
        ),
        (f"{EDGES}[large-batch]",),
    ),
    Case(
        "slow-run",
        (
            flow("import sqlite3\n", "import sqlite3\nimport time\n"),
            flow(
                '    logger.info("Transformed %d records", len(transformed))',
                '    time.sleep(30)\n    logger.info("Transformed %d records", len(transformed))',
            ),
        ),
        (DURATION,),
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
        (f"{REDEPLOY}::test_each_run_of_the_same_batch_loads_its_own_rows",),
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
        (f"{WAREHOUSE_FAULTS}::test_a_load_that_meets_a_locked_table_is_retried_and_lands_once",),
    ),
    # Mistakes Prefect accepts silently (issue 18): only the pre-deploy check names them.
    Case(
        "job-variable-misspelt",
        (manifest("job_variables: {}", "job_variables: {workdir: /tmp}"),),
        (f"{MANIFEST_CHECK}::test_the_blueprints_manifest_passes_the_check_in_seconds",),
    ),
    Case(
        "no-local-run",
        (flow('if __name__ == "__main__":\n    enterprise_data_pipeline()', ""),),
        (f"{PHASE1}::test_local_run_exits_zero_and_prints_its_logs",),
    ),
)


@dataclass
class Verdict:
    case: Case
    returncode: int
    seconds: float
    failed: set[str] = field(default_factory=set)
    errors: set[str] = field(default_factory=set)
    passed: int = 0
    output: str = ""

    @property
    def missing(self) -> list[str]:
        """Named tests that did not fail."""
        return [t for t in self.case.caught_by if not any(f.startswith(t) for f in self.failed)]

    @property
    def green(self) -> bool:
        return self.returncode == 0 and not self.failed and not self.errors and self.passed > 0

    @property
    def caught(self) -> bool:
        return self.returncode == 1 and bool(self.failed) and not self.errors and not self.missing

    def line(self, want_green: bool) -> str:
        ok = self.green if want_green else self.caught
        if want_green:
            verdict = "GREEN" if ok else "RED (the harness fails a blueprint that keeps its word)"
        elif ok:
            verdict = "CAUGHT"
        elif self.returncode == 0:
            verdict = "MISSED: the suite passed a broken blueprint"
        elif self.errors or self.returncode not in (0, 1):
            verdict = f"NOT A CATCH: pytest exited {self.returncode} with errors, not failures"
        else:
            verdict = f"MISSED: these did not fail: {', '.join(self.missing)}"
        failed = f"  failed: {', '.join(sorted(self.failed))}" if self.failed else ""
        errors = f"  errors: {', '.join(sorted(self.errors))}" if self.errors else ""
        timing = f"({self.seconds:.0f}s, {self.passed} passed)"
        return f"{self.case.name:34} {verdict} {timing}{failed}{errors}"


def copy_blueprint(target: Path) -> Path:
    return copy_project(ROOT, target)


def apply(project: Path, edits: Sequence[Edit], other_checkout: Path) -> None:
    for edit in edits:
        path = project / edit.file
        text = path.read_text()
        if text.count(edit.old) != 1:
            raise SystemExit(f"{edit.old!r} is not in {edit.file} exactly once: update this case")
        path.write_text(
            text.replace(
                edit.old, edit.new.replace(OTHER_CHECKOUT, os.path.relpath(other_checkout, project))
            )
        )


def results(junit: Path) -> tuple[set[str], set[str], int]:
    """(failed test ids, errored test ids, passed count) from pytest's JUnit XML."""
    failed, errors, passed = set(), set(), 0
    if not junit.exists():
        return failed, errors, passed
    for case in ElementTree.parse(junit).iter("testcase"):
        path = case.get("classname", "").replace(".", "/") + ".py"
        test_id = f"{path}::{case.get('name')}"
        if case.find("failure") is not None:
            failed.add(test_id)
        elif case.find("error") is not None:
            errors.add(test_id)
        elif case.find("skipped") is None:
            passed += 1
    return failed, errors, passed


def run(case: Case, python: Path, scratch: Path, other_checkout: Path) -> Verdict:
    folder = scratch / case.name.split(" ")[0]
    project = copy_blueprint(folder / "project")
    apply(project, case.edits, other_checkout)
    junit = folder / "junit.xml"
    started = time.monotonic()
    result = subprocess.run(
        [
            str(python),
            "-m",
            "pytest",
            *case.selection,
            "-q",
            "--no-header",
            "-p",
            "no:randomly",
            f"--junitxml={junit}",
            f"--prefect-project-dir={project}",
            f"--prefect-log-dir={folder / 'logs'}",
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=False,
    )
    failed, errors, passed = results(junit)
    return Verdict(
        case, result.returncode, time.monotonic() - started, failed, errors, passed, result.stdout
    )


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("names", nargs="*", help="deviations to try (default: all)")
    parser.add_argument("--keep", action="store_true", help="keep the scratch folder")
    args = parser.parse_args()
    unknown = set(args.names) - {case.name for case in DEVIATIONS}
    if unknown:
        parser.error(f"no such deviation: {', '.join(sorted(unknown))}")
    chosen = [case for case in DEVIATIONS if not args.names or case.name in args.names]
    python = ROOT / ".venv" / "bin" / "python"
    scratch = Path(tempfile.mkdtemp(prefix="deviations-"))
    try:
        other_checkout = copy_blueprint(scratch / "other-checkout")
        began = time.monotonic()
        with ThreadPoolExecutor(AT_ONCE) as pool:
            green = list(
                pool.map(
                    lambda case: run(case, python, scratch, other_checkout), [CONTROL, SPELLINGS]
                )
            )
            for verdict in green:
                print(verdict.line(want_green=True), flush=True)
            if not green[0].green:
                print("The control run failed: no deviation can be judged.")
                print(green[0].output[-4000:])
                return 2
            verdicts = []
            for verdict in pool.map(
                lambda case: run(case, python, scratch, other_checkout), chosen
            ):
                verdicts.append(verdict)
                print(verdict.line(want_green=False), flush=True)
        caught = sum(verdict.caught for verdict in verdicts)
        print(
            f"{caught}/{len(verdicts)} deviations caught; control "
            f"{'green' if green[0].green else 'RED'}; spellings "
            f"{'green' if green[1].green else 'RED'}; {time.monotonic() - began:.0f}s"
        )
        return 0 if caught == len(verdicts) and all(v.green for v in green) else 1
    finally:
        if args.keep:
            print(f"scratch kept: {scratch}")
        else:
            shutil.rmtree(scratch, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
