"""The guide's steps (1.3-1.7, 2.1, 2.3, 2.4, 3.1-3.5) on one stack, each a function of
the stack's `GuideSteps`, declared once with `@step` (see steps.py)."""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import wait
from dataclasses import replace
from functools import partial
from typing import Any, TypeVar

from blueprint_harness.backends.warehouses import embedded_warehouse
from blueprint_harness.guide import bring_up, expectations
from blueprint_harness.guide import commands as guide
from blueprint_harness.guide.data import prepare_contract_tables
from blueprint_harness.guide.steps import GuideSteps, step
from blueprint_harness.manifest.check import ManifestCheck, check_manifest
from blueprint_harness.manifest.declared import rewrite_manifest
from blueprint_harness.manifest.problems import ManifestProblems
from blueprint_harness.manifest.variants import add_second_deployment
from blueprint_harness.stack import timings
from blueprint_harness.stack.cli import CliResult
from blueprint_harness.stack.results import persisted_results as read_back_results
from blueprint_harness.stack.stack import (
    point_at_warehouse,
    running_stack_workers,
    runs_own_server,
)
from blueprint_harness.stack.worker import WorkerFleet

T = TypeVar("T")
# Four `prefect deployment run` at the same instant collide on SQLite's write lock; the
# losers get HTTP 503 and the CLI backs off 2 s, 4 s, 8 s. Starting them a second apart
# (each spends ~1.5 s importing before it calls the API) keeps their writes apart.
TRIGGER_SPACING_SECONDS = 1.0
# The runs that need nothing configured: the warehouse is configured for the others once
# these have ended.
UNCONFIGURED_RUNS = ("local_run",)


def _after(delay: float, call: Callable[[], T]) -> Callable[[], T]:
    def delayed() -> T:
        time.sleep(delay)
        return call()

    return delayed


@step("installed_version", needs_server=False)
def installed_version(steps: GuideSteps) -> CliResult:
    """Step 1.3: `prefect version`, once (what it prints cannot change in a session)."""
    return guide.prefect_version(steps.cli)


@step("api_url_configured", needs_server=False)
def api_url_configured(steps: GuideSteps) -> guide.ApiUrlConfigured:
    """Steps 1.5 and 1.6: `prefect config set PREFECT_API_URL=...` in the session's own
    profile, then `prefect config view` without the session's own setting of it. After
    `prefect version`: nothing else reads the profile while it is rewritten."""
    installed_version(steps).result()
    return guide.configure_api_url(steps.cli, steps.sandbox.api_url)


@step("local_run", timing=timings.LOCAL_RUN)
def local_run(steps: GuideSteps) -> guide.LocalRun:
    """Step 1.7: the flow run once locally against the stack's server
    (`python flows/data_pipeline.py`), on a server of ours with nothing configured, as a
    new user runs it: its batch lands in the project's embedded warehouse, and is removed
    from there when the steps close (the project's files are left as they were)."""
    stack = steps.stack
    run = guide.run_flow_locally(stack.cli, on_created=stack.ledger.made_flow_run)
    stack.runs.track(run.flow_run_id, "local-run", run.started_at, run.cli.command)
    if runs_own_server(stack):
        embedded = embedded_warehouse(steps.sandbox.project_dir)
        table = expectations.DEFAULT_PARAMETERS["target_table"]
        steps.processes.callback(embedded.delete_batch, table, run.flow_run_id)
    return run


@step("work_pool", deferred=False, timing=timings.WORK_POOL)
def work_pool(steps: GuideSteps) -> guide.PoolCreated:
    """Step 2.1: the process work pool, created with the guide's command
    (`prefect work-pool create "local-process-pool" --type process`)."""
    return bring_up.work_pool(steps.stack, steps.names)


@step("prefect_workers", deferred=False)
def workers(steps: GuideSteps) -> WorkerFleet:
    """Step 2.3: the process worker(s), polling the pool (Terminal C:
    `prefect worker start --pool "local-process-pool"`), kept running; ready once the
    warehouse is configured too, so that no run it picks up writes elsewhere."""
    pool = work_pool(steps).result().name
    fleet = steps.processes.enter_context(running_stack_workers(steps.stack, pool))
    warehouse_configured(steps).result()
    return fleet


@step("warehouse_configured", deferred=False)
def warehouse_configured(steps: GuideSteps) -> None:
    """The blueprint configured as its users configure it (README): the `warehouse_url`
    Variable names the sandbox's warehouse, once the runs that need nothing configured
    (the local run: the embedded default, as a new user gets it) have ended."""
    if not runs_own_server(steps.stack):
        return  # someone else's server: its warehouse is its owner's to configure
    for name in UNCONFIGURED_RUNS:
        future = steps.started(name)
        if future is not None:
            wait([future])
    point_at_warehouse(steps.stack.api, steps.sandbox.warehouse)
    if steps.sandbox.warehouse is not None:
        prepare_contract_tables(steps.sandbox.warehouse)


@step("manifest_checked", deferred=False, needs_server=False)
def manifest_checked(steps: GuideSteps) -> ManifestCheck:
    """The pre-deploy check of the manifest (`blueprint check`), before the deploy
    (once a session: the one it did already, if it checked this project)."""
    if steps.checked is not None and steps.checked.manifest.parent == steps.sandbox.project_dir:
        return steps.checked
    return check_manifest(steps.sandbox.project_dir)


def _ready_to_deploy(steps: GuideSteps) -> None:
    """Wait for the pool and the pre-deploy check; a manifest that fails the check fails
    the deploy there (its mistakes then fail the deploy's tests in seconds, named)."""
    pool = work_pool(steps)  # made meanwhile
    checked = manifest_checked(steps).result()
    if not checked.ok:
        raise ManifestProblems(checked.problems)
    pool.result()


@step("deployment")
def deployment(steps: GuideSteps) -> guide.Deployed:
    """Step 2.4: the deployment registered from prefect.yaml with the guide's command
    (`prefect deploy --name production-etl --no-prompt`), once the manifest passed the
    pre-deploy check (its mistakes then fail the deploy's tests in seconds, named)."""
    _ready_to_deploy(steps)
    with steps.stack.timings.measure(timings.DEPLOY):
        return bring_up.deployment(steps.stack, steps.names)


def _trigger(
    steps: GuideSteps, triggers: Sequence[expectations.Trigger]
) -> list[guide.TriggeredRun]:
    """Trigger each of `triggers` with the guide's command, a second apart."""
    cli = steps.stack.cli
    made = steps.stack.ledger.made_flow_run
    runs = cli.concurrently(
        [
            _after(
                i * TRIGGER_SPACING_SECONDS,
                partial(guide.trigger, cli, trigger, steps.names, made),
            )
            for i, trigger in enumerate(triggers)
        ]
    )
    for run in runs:
        steps.stack.runs.track(run.flow_run_id, run.trigger.key, run.triggered_at, run.cli.command)
    return runs


@step("failing_runs_begun", waits_on_runs=True)
def failing_runs_begun(steps: GuideSteps) -> Mapping[str, guide.TriggeredRun]:
    """Step 3.5 (and the contract's failing table) triggered first, once the deployment
    and the workers are up; done once their runs have begun. The longest runs (three
    2 s retries each): their waits then overlap the other runs' work instead of
    following it."""
    deployment(steps).result()
    workers(steps).result()
    runs = _trigger(steps, expectations.FAILING_TRIGGERS)
    for run in runs:
        steps.stack.runs.wait_under_way(run.flow_run_id)
    return {run.trigger.key: run for run in runs}


@step("triggered_runs", waits_on_runs=True)
def triggered_runs(steps: GuideSteps) -> Mapping[str, guide.TriggeredRun]:
    """Steps 3.1 and 3.3-3.5 (and the contract's failing table): the failing runs
    first, the others once those have begun (none depends on another)."""
    failing = failing_runs_begun(steps).result()
    others = [t for t in expectations.ALL_TRIGGERS if t.key not in failing]
    runs = {**failing, **{run.trigger.key: run for run in _trigger(steps, others)}}
    return {trigger.key: runs[trigger.key] for trigger in expectations.ALL_TRIGGERS}


@step("run_from_another_checkout", waits_on_runs=True)
def run_from_another_checkout(steps: GuideSteps) -> guide.CheckoutRun:
    """The manifest deployed from another checkout of the project (as a CI job's is),
    its guide entry under another name, and that deployment's default trigger: its
    runs must execute that copy's flow."""
    checkout = guide.copy_project(
        steps.sandbox.project_dir, steps.sandbox.root / "another-checkout"
    )
    # A team's manifest grows: the copy declares a second deployment too, which the
    # renamed deploy (as in external mode) must leave out.
    rewrite_manifest(checkout, add_second_deployment)
    # Deployed alongside the guide's deployment and triggered alongside its triggers,
    # once the failing runs have begun: done after those, this deploy, trigger and run
    # were the session's last seconds; done before them, they slowed the longest runs.
    _ready_to_deploy(steps)
    there = guide.cli_in(steps.stack.cli, checkout)
    name = guide.deploy_from_checkout(there, steps.names, steps.stack.sandbox.root)
    ledger = steps.stack.ledger
    ledger.made_deployment(steps.stack.api.deployment(expectations.FLOW_NAME, name).id)
    failing_runs_begun(steps).result()
    elsewhere = replace(steps.names, deployment_name=name)
    default = expectations.TRIGGERS_BY_KEY["default"]
    run = guide.trigger(there, default, elsewhere, ledger.made_flow_run)
    steps.stack.runs.track(run.flow_run_id, "another-checkout", run.triggered_at, run.cli.command)
    return guide.CheckoutRun(checkout, run)


@step("persisted_results", waits_on_runs=True)
def persisted_results(steps: GuideSteps) -> dict[str, dict[str, Any]]:
    """The completed runs' results read back in another process through Prefect's
    `state.result()`, as a user debugging yesterday's run would, once they have ended
    (while the failing runs still retry)."""
    runs = triggered_runs(steps).result().values()
    ids = [run.flow_run_id for run in runs if run.trigger.final_state == "Completed"]
    steps.stack.runs.wait_all_terminal(ids)
    return read_back_results(steps.stack.cli, ids)


@step("flow_runs_listed", waits_on_runs=True)
def flow_runs_listed(steps: GuideSteps) -> CliResult:
    """Step 3.2: `prefect flow-run ls`, once every triggered run has ended."""
    runs = triggered_runs(steps).result().values()
    steps.stack.runs.wait_all_terminal(run.flow_run_id for run in runs)
    return guide.list_flow_runs(steps.stack.cli, steps.names)
