"""A real transient fault in the warehouse: another writer holds the lock on the target
while a run loads. The load's retries carry it through, the rows land once; a lock held
past every retry fails the run with the warehouse's own error and writes nothing."""

from __future__ import annotations

import pytest

from blueprint_harness.guide import expectations as expected
from blueprint_harness.guide import guide_steps
from blueprint_harness.guide.commands import trigger
from blueprint_harness.guide.data import load_problems

pytestmark = pytest.mark.faults

TABLE = "warehouse.faults.locked"
INTO_LOCKED = expected.Trigger(
    "into-locked-table", ("--param", f"target_table={TABLE}"), {"target_table": TABLE}
)
# What the warehouses say when a writer waits past its lock timeout (SQLite, PostgreSQL).
LOCK_ERRORS = ("database is locked", "lock timeout")


def rows_of(trigger_):
    params = trigger_.parameters
    return expected.expected_rows(params["source_url"], params["batch_size"])


@pytest.fixture(scope="module")
def table_exists(faults_stack, live_workers_for_module):
    """A first run into the table: it exists before anyone locks it."""
    run = trigger(faults_stack.cli, INTO_LOCKED)
    assert faults_stack.runs.wait_terminal(run.flow_run_id).state_name == "Completed"
    return faults_stack.sandbox.warehouse


@pytest.fixture(scope="module")
def live_workers_for_module(faults_steps):
    guide_steps.deployment(faults_steps).result()
    return guide_steps.workers(faults_steps).result()


def test_a_load_that_meets_a_locked_table_is_retried_and_lands_once(faults_stack, table_exists):
    warehouse = table_exists
    with warehouse.locked(TABLE):
        run = trigger(faults_stack.cli, INTO_LOCKED)
        faults_stack.runs.wait_for_task_state(run.flow_run_id, "load", "AwaitingRetry")
    record = faults_stack.runs.wait_settled(run.flow_run_id, tasks=expected.TASKS)
    load = record.task("load")
    load_lines = record.task_log_messages("load")

    assert record.flow_run.state_name == "Completed", record.describe()
    assert load.task_run.run_count >= 2, record.describe()
    assert any(error in line for line in load_lines for error in LOCK_ERRORS), record.describe()
    assert not load_problems(warehouse, TABLE, run.flow_run_id, rows_of(INTO_LOCKED))


def test_a_lock_held_past_every_retry_fails_the_run_with_its_error_and_writes_nothing(
    faults_stack, table_exists
):
    warehouse = table_exists
    with warehouse.locked(TABLE):
        run = trigger(faults_stack.cli, INTO_LOCKED)
        faults_stack.runs.wait_for_task_state(run.flow_run_id, "load", "Failed")
    record = faults_stack.runs.wait_settled(run.flow_run_id, tasks=expected.TASKS)
    load = record.task("load")

    assert record.flow_run.state_name == "Failed", record.describe()
    assert load.task_run.run_count == expected.TASK_RETRIES + 1, record.describe()
    assert any(error in (record.states[-1].message or "") for error in LOCK_ERRORS), (
        record.describe()
    )
    assert warehouse.rows(TABLE, run.flow_run_id) == []
