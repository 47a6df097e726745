"""Faults survived on every backend: the server killed and restarted mid-run, a worker lost
with its flow run (detected by heartbeats), a flow-run process killed."""

from __future__ import annotations

import pytest

from blueprint_harness.guide import expectations as expected
from blueprint_harness.guide.commands import trigger
from blueprint_harness.guide.faults import (
    kill,
    run_processes,
    start_long_run,
    wait_between_retries,
    wait_crashed,
    whole_story,
    worker_running,
)
from blueprint_harness.stack.executions import execution
from blueprint_harness.stack.zombies import MESSAGE as ZOMBIE_MESSAGE

pytestmark = pytest.mark.faults


def test_a_run_in_flight_survives_a_server_restart_with_its_history_intact(
    faults_stack, live_workers
):
    run = start_long_run(faults_stack)
    server = faults_stack.server.process
    wait_between_retries(faults_stack, run)

    kill(server)
    server.start()  # same session: same database, same port
    record, problems = whole_story(faults_stack, run)

    assert not problems, "\n".join([*problems, record.describe()])


def test_a_lost_worker_is_detected_by_heartbeats_and_a_live_worker_serves_new_runs(
    faults_stack, live_workers
):
    run = start_long_run(faults_stack)
    faults_stack.runs.wait_for_heartbeat(run.flow_run_id)  # detection starts with the first
    lost = worker_running(live_workers, run.flow_run_id)
    survivors = {w.process.spec.name for w in live_workers.workers if w is not lost}

    kill(lost.process)  # the worker and its flow-run process: nobody left to report
    crashed = wait_crashed(faults_stack, run.flow_run_id)
    if not survivors:
        lost.process.start()
    again = trigger(faults_stack.cli, expected.TRIGGERS_BY_KEY["default"])
    served = faults_stack.runs.wait_terminal(again.flow_run_id)
    served_by = {p.worker for p in execution(faults_stack.sandbox, again.flow_run_id).engines}

    assert crashed.state_type == "CRASHED", faults_stack.runs.report(run.flow_run_id)
    faults_stack.runs.wait_for_message(run.flow_run_id, ZOMBIE_MESSAGE)
    assert served.state_name == "Completed"
    assert served_by <= (survivors or {lost.process.spec.name}), served_by


def test_a_killed_flow_run_process_ends_the_run_crashed(faults_stack, live_workers):
    run = start_long_run(faults_stack)
    processes = run_processes(run.flow_run_id)

    for process in processes:
        process.kill()
    final = faults_stack.runs.wait_terminal(run.flow_run_id)

    assert processes, "no process carried the run's id"
    assert final.state_type == "CRASHED", faults_stack.runs.report(run.flow_run_id)
    faults_stack.runs.wait_for_message(run.flow_run_id, "SIGKILL")
