"""Phase 2 of the guide: process work pool, worker polling, deployment registered from
prefect.yaml, schedule configured."""

from __future__ import annotations

from datetime import timedelta

import pytest

from blueprint_harness.guide import expectations as expected
from blueprint_harness.guide.commands import list_deployments, list_work_pools
from blueprint_harness.guide.data import load_problems
from blueprint_harness.guide.schedules import daily_occurrences, local_times, same_cron
from blueprint_harness.manifest.declared import declared_deployments, same_flow_file
from blueprint_harness.stack.cli_output import table_rows
from blueprint_harness.stack.executions import execution, source_problems

pytestmark = pytest.mark.phase2


def test_work_pool_is_created_with_type_process(work_pool, prefect_cli, guide_names):
    listed = {row["Name"]: row["Type"] for row in table_rows(list_work_pools(prefect_cli).stdout)}

    assert f"Created work pool '{guide_names.pool}'" in work_pool.cli.stdout
    assert listed.get(guide_names.pool) == expected.WORK_POOL_TYPE
    assert work_pool.pool.type == expected.WORK_POOL_TYPE
    assert not work_pool.pool.is_paused


def test_worker_is_polling_the_pool(prefect_workers, prefect_api, guide_names):
    registered = {worker.name: worker.status for worker in prefect_api.workers(guide_names.pool)}

    assert {name: registered.get(name) for name in prefect_workers.names} == dict.fromkeys(
        prefect_workers.names, "ONLINE"
    )
    assert prefect_api.work_pool(guide_names.pool).status == "READY"
    assert all(worker.process.is_running() for worker in prefect_workers.workers)


def test_deployment_is_registered_and_listed(deployment, prefect_cli, guide_names):
    listed = [row["Name"] for row in table_rows(list_deployments(prefect_cli).stdout)]

    assert (
        f"Deployment '{guide_names.deployment_full}' successfully created" in deployment.cli.stdout
    )
    assert guide_names.deployment_full in listed


def test_manifest_declares_the_deployment_the_guide_deploys(prefect_stack):
    declared = declared_deployments(prefect_stack.sandbox.project_dir)

    assert [d.get("name") for d in declared].count(expected.DEPLOYMENT_NAME) == 1, declared


def test_deployment_runs_the_flow_on_the_pool_with_the_default_parameters(deployment, guide_names):
    registered = deployment.deployment
    flow_defaults = {
        name: spec.get("default")
        for name, spec in registered.parameter_schema.get("properties", {}).items()
    }

    assert same_flow_file(registered.entrypoint, expected.FLOW_SCRIPT), registered.entrypoint
    assert registered.work_pool_name == guide_names.pool
    assert registered.parameters == dict(expected.DEFAULT_PARAMETERS)
    assert flow_defaults == dict(expected.DEFAULT_PARAMETERS), "the flow's own defaults"


def test_schedule_is_daily_at_9_in_chicago_and_active(deployment):
    registered = deployment.deployment
    schedules = [(s.cron, s.timezone, s.active) for s in registered.schedules]

    assert len(schedules) == 1, schedules
    cron, timezone, active = schedules[0]
    assert same_cron(cron, expected.SCHEDULE_CRON), cron
    assert (timezone, active) == (expected.SCHEDULE_TIMEZONE, True)
    assert not registered.paused


def test_scheduler_creates_upcoming_runs_at_9_chicago_time(deployment, prefect_runs):
    runs = prefect_runs.wait_scheduled(deployment.deployment.id, at_least=2)
    starts = [run.expected_start_time for run in runs]
    first_local = local_times(starts, expected.SCHEDULE_TIMEZONE)[0]

    assert starts == daily_occurrences(
        first_local, expected.SCHEDULE_LOCAL_TIME, expected.SCHEDULE_TIMEZONE, len(starts)
    )
    assert timedelta(0) < starts[0] - deployment.created_at <= timedelta(days=1)
    assert all(run.parameters == dict(expected.DEFAULT_PARAMETERS) for run in runs)


def test_the_manifest_works_from_another_checkout_and_its_runs_execute_that_copy(
    run_from_another_checkout, prefect_runs, prefect_stack, warehouse
):
    found = run_from_another_checkout
    record = prefect_runs.wait_settled(found.run.flow_run_id, tasks=expected.TASKS)
    ran = execution(prefect_stack.sandbox, found.run.flow_run_id)
    params = expected.DEFAULT_PARAMETERS
    wanted = expected.expected_rows(params["source_url"], params["batch_size"])

    assert record.flow_run.state_name == "Completed", record.describe()
    assert not source_problems(found.checkout, ran, expected.FLOW_SCRIPT), ran.describe()
    assert not load_problems(warehouse, params["target_table"], found.run.flow_run_id, wanted)
