"""Faults survived: a server killed and restarted, a worker or a flow-run process killed."""

from __future__ import annotations

import pytest

from fixtures.faults import flow_run_processes, kill, start_long_run, watch_outcome
from fixtures.guide import expectations as guide
from fixtures.guide.commands import trigger
from fixtures.stack.states import follows_path

pytestmark = pytest.mark.faults


def test_a_run_in_flight_survives_a_server_restart_with_its_history_intact(
    faults_stack, live_worker
):
    run = start_long_run(faults_stack)
    server = faults_stack.server.process

    kill(server)
    server.start()  # same session: same database file, same port
    record = faults_stack.runs.wait_settled(run.flow_run_id, tasks=run.trigger.tasks)

    assert record.flow_run.state_name == run.trigger.final_state, record.describe()
    assert follows_path(record.state_names, run.trigger.path), record.describe()
    assert record.task(guide.RETRYING_TASK).state_names == list(guide.retry_path())


def test_a_killed_worker_is_detected_and_a_new_worker_serves_new_runs(faults_stack, live_worker):
    run = start_long_run(faults_stack)

    kill(live_worker.process)
    outcome = watch_outcome(faults_stack, run.flow_run_id, stall_after=30)

    assert outcome.stalled or outcome.flow_run.state_type == "CRASHED", str(outcome)
    live_worker.process.start()
    again = trigger(faults_stack.cli, guide.TRIGGERS_BY_KEY["default"])
    assert faults_stack.runs.wait_terminal(again.flow_run_id).state_name == "Completed"


def test_a_killed_flow_run_process_ends_the_run_crashed(faults_stack, live_worker):
    run = start_long_run(faults_stack)
    processes = flow_run_processes(live_worker, run.flow_run_id)

    for process in processes:
        process.kill()
    final = faults_stack.runs.wait_terminal(run.flow_run_id)

    assert processes, "no process of the worker carried the run's id"
    assert final.state_type == "CRASHED", faults_stack.runs.report(run.flow_run_id)
    faults_stack.runs.wait_for_message(run.flow_run_id, "SIGKILL")
