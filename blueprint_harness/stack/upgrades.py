"""A Prefect upgrade in place, as a team makes it: a server of the previous minor holding
the blueprint's deployment, its schedule and finished runs; the database upgraded with the
pinned Prefect (`prefect server database upgrade -y`); and what the server holds, read
through the API before and after, to compare."""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime
from pathlib import Path
from typing import Any

from blueprint_harness.guide import commands as guide
from blueprint_harness.guide import expectations
from blueprint_harness.guide.names import names_for
from blueprint_harness.stack.checkouts import history
from blueprint_harness.stack.cli import CliResult
from blueprint_harness.stack.executions import execution
from blueprint_harness.stack.models import Deployment
from blueprint_harness.stack.runs import RunRecord
from blueprint_harness.stack.sandbox import Sandbox, venv_bin
from blueprint_harness.stack.stack import AnyStack, running_stack_workers, sandbox_cli

# Migrations of a whole minor on a loaded 2-core machine take seconds; the bound is generous.
UPGRADE_TIMEOUT_SECONDS = 300.0


@dataclass(frozen=True)
class Held:
    """What a server holds of the blueprint, read through its API."""

    server_version: str
    deployment: Deployment
    finished: dict[str, tuple[str | None, dict[str, Any]]]  # run id -> (state, parameters)
    upcoming: tuple[datetime, ...]  # the scheduler's upcoming runs' start times

    def describe(self) -> str:
        return (
            f"Prefect {self.server_version}: deployment {self.deployment.id} "
            f"{[(s.cron, s.timezone, s.active) for s in self.deployment.schedules]}, "
            f"{len(self.finished)} finished runs, upcoming {[t.isoformat() for t in self.upcoming]}"
        )


def held(stack: AnyStack) -> Held:
    """The blueprint's deployment on `stack`, its finished runs and its upcoming runs."""
    names = names_for(stack.sandbox)
    deployment = stack.api.deployment(expectations.FLOW_NAME, names.deployment)
    runs = stack.api.deployment_flow_runs(deployment.id)
    upcoming = stack.runs.wait_scheduled(deployment.id, expectations.SCHEDULER_MIN_RUNS)
    return Held(
        stack.api.server_version(),
        deployment,
        history(runs),
        tuple(sorted(run.expected_start_time for run in upcoming if run.expected_start_time)),
    )


def upgrade_database(sandbox: Sandbox) -> CliResult:
    """`prefect server database upgrade -y` with the sandbox's Prefect, on its database."""
    return sandbox_cli(sandbox).prefect(
        "server", "database", "upgrade", "-y", timeout=UPGRADE_TIMEOUT_SECONDS
    )


@dataclass(frozen=True)
class Outcome:
    """A guide trigger's run on the upgraded server, and which Prefect's engine ran it."""

    trigger: expectations.Trigger
    record: RunRecord
    engine_prefix: str  # where the engine's code lives (the flow-run process's argv[0])
    own_bin: Path  # the harness's own executables, for comparison

    def describe(self) -> str:
        return f"{self.trigger.key}: engine {self.engine_prefix!r}\n{self.record.describe()}"


def guides_triggers_with_workers(stack: AnyStack, bin_dir: Path | None) -> list[Outcome]:
    """The guide's triggers (3.1, 3.3-3.5) run by the workers of the Prefect in `bin_dir`
    (None: the harness's own) on `stack`'s pool, each to its terminal state."""
    working = replace(stack, sandbox=replace(stack.sandbox, prefect_bin=bin_dir))
    names = names_for(stack.sandbox)
    label = f"prefect-worker-{'previous' if bin_dir else 'current'}-prefect"
    with running_stack_workers(working, names.pool, label):
        runs = [guide.trigger(stack.cli, trigger, names) for trigger in expectations.TRIGGERS]
        outcomes = []
        for run in runs:
            stack.runs.track(run.flow_run_id, f"upgraded-{run.trigger.key}", run.triggered_at)
            record = stack.runs.wait_settled(run.flow_run_id, tasks=run.trigger.tasks)
            engines = execution(stack.sandbox, run.flow_run_id).engines
            where = engines[0].argv[0] if engines and engines[0].argv else ""
            outcomes.append(Outcome(run.trigger, record, where, venv_bin()))
    return outcomes
