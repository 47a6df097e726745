"""The blueprint's contract beyond the guide's steps (README), each case a run that would
show its breach: a configured warehouse that refuses (on a server of its own beside the
main one), the flow nested in another flow, a run run again. Each a function of the stack's
`GuideSteps`, declared with `@step`."""

from __future__ import annotations

import json
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from blueprint_harness.guide import commands as guide
from blueprint_harness.guide import expectations, guide_steps
from blueprint_harness.guide.steps import GuideSteps, step
from blueprint_harness.process.ports import LOOPBACK, free_port
from blueprint_harness.stack.cli import CliResult
from blueprint_harness.stack.models import FlowRun
from blueprint_harness.stack.runs import RunRecord
from blueprint_harness.stack.sandboxes import side_stack
from blueprint_harness.stack.stack import runs_own_server, set_warehouse_url


class NotOurServer(RuntimeError):
    """A case that reconfigures the server's warehouse runs only on a server of ours."""


@dataclass(frozen=True)
class RefusedRun:
    """The local run while the configured warehouse refuses: what it was told, what it did,
    and what its server kept of it (read before that server stopped)."""

    run: guide.LocalRun
    url: str  # the `warehouse_url` Variable's value, password included
    password: str
    record: RunRecord
    events: list[dict[str, Any]]  # the run's events, as the server stored them
    api_record: dict[str, Any]  # the run as `GET /flow_runs/{id}` gives it (the UI's source)

    @property
    def shown_url(self) -> str:
        """The URL as it may be shown: its password replaced by ***."""
        return self.url.replace(f":{self.password}@", ":***@")


@step("refused_warehouse_run")
def refused_warehouse_run(steps: GuideSteps) -> RefusedRun:
    """`python flows/data_pipeline.py` while the `warehouse_url` Variable names a
    PostgreSQL warehouse, with a password, where nothing listens: on a server of its own
    beside the main one (the Variable is a server's, and the main server's runs go on)."""
    if not runs_own_server(steps.stack):
        raise NotOurServer("the warehouse of a server someone else runs is its owner's")
    password = f"s3cret-{secrets.token_hex(8)}"
    user = expectations.REFUSING_WAREHOUSE_USER
    url = f"postgresql://{user}:{password}@{LOOPBACK}:{free_port()}/warehouse"
    with side_stack(steps.stack, "refusing-warehouse") as stack:
        set_warehouse_url(stack.api, url)
        run = guide.run_flow_locally(stack.cli, expect=None)
        record = stack.runs.wait_settled(run.flow_run_id, tasks=expectations.TASKS)
        run_id = run.flow_run_id
        events = stack.api.events(f"prefect.flow-run.{run_id}")
        api_record: dict[str, Any] = stack.api.get(f"flow_runs/{run_id}")
    return RefusedRun(run, url, password, record, events, api_record)


@dataclass(frozen=True)
class NestedRuns:
    """The blueprint's flow called twice from a parent flow (nested_runs.py)."""

    cli: CliResult
    parent_id: str
    nested: list[dict[str, Any]]  # each: id, parameters, state


@step("contract_runs", waits_on_runs=True)
def contract_runs(steps: GuideSteps) -> dict[str, str]:
    """The contract's cases as deployment runs (an unreachable source; a table the
    warehouse refuses a row of part-way, on a warehouse of our own), created through the
    API once the failing triggers' runs began; their flow run ids by case."""
    guide_steps.failing_runs_begun(steps).result()
    stack = steps.stack
    deployment = guide_steps.deployment(steps).result().deployment
    made = {}
    for case in expectations.CONTRACT_CASES:
        if case.key in expectations.NEEDS_OWN_WAREHOUSE and not runs_own_server(stack):
            continue
        began = datetime.now(UTC)
        run = stack.api.create_flow_run(deployment.id, dict(case.overrides))
        stack.ledger.made_flow_run(run.id)
        stack.runs.track(run.id, case.key, began)
        made[case.key] = run.id
    return made


def _after_the_guides_runs(steps: GuideSteps) -> None:
    """Wait until the triggered runs that complete have ended (if the session triggers
    them): SQLite has one writer, and a dozen runs writing at once keep it busy past the
    clients' patience (a worker crashed a run whose labels it could not set for 2 min)."""
    triggered = steps.started("triggered_runs")
    if triggered is None:
        return
    runs = triggered.result().values()
    ids = [run.flow_run_id for run in runs if run.trigger.final_state == "Completed"]
    steps.stack.runs.wait_all_terminal(ids)


@step("nested_runs", waits_on_runs=True)
def nested_runs(steps: GuideSteps) -> NestedRuns:
    """The blueprint's flow as a subflow of a team's own flow, twice into one table, run
    locally once the warehouse is configured and the guide's completing runs ended."""
    guide_steps.warehouse_configured(steps).result()
    _after_the_guides_runs(steps)
    calls = [dict(call) for call in expectations.NESTED_CALLS]
    cli = steps.stack.cli
    started = datetime.now(UTC)
    result = cli.python(
        "-m",
        "blueprint_harness.guide.nested_runs",
        str(steps.sandbox.project_dir),
        json.dumps(calls),
        expect=None,
    )
    cli.check(result, expect=0)
    said = json.loads(result.stdout.strip().splitlines()[-1])
    for nested in [{"id": said["parent"]}, *said["nested"]]:
        steps.stack.ledger.made_flow_run(nested["id"])
    for i, nested in enumerate(said["nested"]):
        steps.stack.runs.track(nested["id"], f"nested-{i + 1}", started, result.command)
    return NestedRuns(result, said["parent"], said["nested"])


@dataclass(frozen=True)
class Rerun:
    """A completed run of the deployment, run again with `prefect flow-run retry`."""

    triggered: guide.TriggeredRun
    first: FlowRun  # as it was after its first execution
    retry: CliResult  # `prefect flow-run retry <id>`
    again: FlowRun  # once its second execution ended


@step("rerun", waits_on_runs=True)
def rerun(steps: GuideSteps) -> Rerun:
    """The contract's re-run: a run triggered with the guide's command; once Completed,
    `prefect flow-run retry <id>` (the CLI's way to run a finished run again), and its
    second execution to its end."""
    guide_steps.failing_runs_begun(steps).result()
    stack = steps.stack
    triggered = guide.trigger(
        stack.cli, expectations.RERUN_TRIGGER, steps.names, stack.ledger.made_flow_run
    )
    stack.runs.track(triggered.flow_run_id, "rerun", triggered.triggered_at, triggered.cli.command)
    first = stack.runs.wait_terminal(triggered.flow_run_id)
    retry = stack.cli.prefect("flow-run", "retry", triggered.flow_run_id)
    again = stack.runs.wait_terminal_again(triggered.flow_run_id, after=first)
    return Rerun(triggered, first, retry, again)
