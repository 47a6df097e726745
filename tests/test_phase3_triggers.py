"""Phase 3 of the guide: triggers with default, overridden and JSON parameters, a failing
URL, state transitions, retries 2 s apart, and logs in the API, the worker and the server."""

from __future__ import annotations

import re

import pytest

from blueprint_harness.guide import expectations as expected
from blueprint_harness.guide.commands import created_run_id
from blueprint_harness.guide.data import load_problems
from blueprint_harness.guide.steps import deferred
from blueprint_harness.stack.cli_output import table_rows
from blueprint_harness.stack.executions import execution, once_problems, source_problems
from blueprint_harness.stack.states import follows_path, retry_delays

pytestmark = pytest.mark.phase3

COMPLETING = [t for t in expected.ALL_TRIGGERS if t.final_state == "Completed"]


def typed(parameters):
    """Parameters with their JSON types, so 50, 50.0 and "50" are told apart."""
    return {name: (type(value).__name__, value) for name, value in parameters.items()}


@pytest.fixture(params=[t.key for t in expected.ALL_TRIGGERS])
def trigger_key(request):
    return request.param


@pytest.fixture
def settled(trigger_key, triggered_runs, prefect_runs):
    """(triggered run, the API's full record of it once finished) for one trigger."""

    def read():
        run = triggered_runs[trigger_key]
        return run, prefect_runs.wait_settled(run.flow_run_id, tasks=run.trigger.tasks)

    return deferred(read)


@pytest.fixture(params=[t.key for t in expected.FAILING_TRIGGERS])
def failed(request, triggered_runs, prefect_runs):
    """(trigger, the API's full record of its run) for each run that must fail."""

    def read():
        run = triggered_runs[request.param]
        return run.trigger, prefect_runs.wait_settled(run.flow_run_id, tasks=run.trigger.tasks)

    return deferred(read)


def test_trigger_creates_a_run_of_the_deployment(settled, deployment):
    run, record = settled

    assert created_run_id(run.cli) == record.flow_run.id, run.cli.stdout
    assert record.flow_run.deployment_id == deployment.deployment.id


def test_run_follows_the_guides_state_path(settled):
    run, record = settled

    assert record.flow_run.state_name == run.trigger.final_state, record.describe()
    assert follows_path(record.state_names, run.trigger.path), record.describe()


def test_run_carries_exactly_the_given_parameters(settled):
    run, record = settled
    carried = record.flow_run.parameters
    overrides = {name: carried.get(name) for name in run.trigger.overrides}

    assert carried == run.trigger.parameters  # as values: the manifest may write 500.0
    assert typed(overrides) == typed(run.trigger.overrides)  # each typed as the CLI gave it


@pytest.mark.parametrize("trigger", COMPLETING, ids=lambda t: t.key)
def test_run_behaviour_shows_its_parameters(trigger, triggered_runs, prefect_runs):
    run = triggered_runs[trigger.key]
    record = prefect_runs.wait_settled(run.flow_run_id, tasks=trigger.tasks)
    params = trigger.parameters
    extracted = expected.records_extracted_pattern(params["batch_size"], params["source_url"])
    loaded = expected.records_loaded_pattern(params["batch_size"], params["target_table"])

    for task in expected.TASKS:
        assert record.task(task).task_run.state_name == "Completed", record.describe()
    assert any(map(extracted.search, record.task_log_messages("extract"))), record.describe()
    assert any(map(loaded.search, record.task_log_messages("load"))), record.describe()


@pytest.mark.parametrize("trigger", COMPLETING, ids=lambda t: t.key)
def test_each_task_runs_with_its_retry_policy(trigger, triggered_runs, prefect_runs):
    run = triggered_runs[trigger.key]
    record = prefect_runs.wait_settled(run.flow_run_id, tasks=trigger.tasks)

    for task, policy in expected.TASK_POLICIES.items():
        observed = record.task(task).task_run.retry_policy
        assert observed == (policy.retries, (policy.delay_seconds,) * policy.retries), task


@pytest.mark.parametrize("trigger", COMPLETING, ids=lambda t: t.key)
def test_a_completed_run_loaded_exactly_its_rows_transformed(
    trigger, triggered_runs, prefect_runs, warehouse
):
    run = triggered_runs[trigger.key]
    prefect_runs.wait_settled(run.flow_run_id, tasks=trigger.tasks)
    params = trigger.parameters
    wanted = expected.expected_rows(params["source_url"], params["batch_size"])

    assert not load_problems(warehouse, params["target_table"], run.flow_run_id, wanted)


@pytest.mark.parametrize("trigger", COMPLETING, ids=lambda t: t.key)
def test_the_persisted_result_the_final_log_line_and_the_table_agree(
    trigger, triggered_runs, prefect_runs, persisted_results, warehouse
):
    run = triggered_runs[trigger.key]
    record = prefect_runs.wait_settled(run.flow_run_id, tasks=trigger.tasks)
    params = trigger.parameters
    summary = expected.expected_summary(params["batch_size"], params["target_table"])
    loaded = expected.records_loaded_pattern(params["batch_size"], params["target_table"])
    flow_lines = [entry.message for entry in record.logs if entry.task_run_id is None]

    assert persisted_results[run.flow_run_id] == {"value": summary}
    assert any(map(loaded.search, flow_lines)), record.describe()
    assert len(warehouse.rows(params["target_table"], run.flow_run_id)) == summary["records"]


@pytest.mark.parametrize("trigger", COMPLETING, ids=lambda t: t.key)
def test_a_completed_run_ran_each_task_exactly_once(trigger, triggered_runs, prefect_runs):
    run = triggered_runs[trigger.key]
    record = prefect_runs.wait_settled(run.flow_run_id, tasks=trigger.tasks)
    attempts = {task: record.task(task).task_run.run_count for task in expected.TASKS}

    assert attempts == dict.fromkeys(expected.TASKS, 1), record.describe()
    for task in expected.TASKS:
        assert "Retrying" not in record.task(task).state_names, record.describe()


@pytest.mark.parametrize("trigger", COMPLETING, ids=lambda t: t.key)
def test_a_completed_run_takes_the_time_the_guide_gives(
    trigger, triggered_runs, prefect_runs, prefect_stack
):
    run = triggered_runs[trigger.key]
    flow_run = prefect_runs.wait_terminal(run.flow_run_id)
    start, end = flow_run.start_time.timestamp(), flow_run.end_time.timestamp()
    ran = execution(prefect_stack.sandbox, run.flow_run_id)
    waited = ran.waited_for_cpu(start, end) or 0.0  # the machine's share, not the run's
    own = end - start - waited

    assert 0 < own <= expected.RUN_DURATION_BOUND_SECONDS, (
        f"{flow_run} ran {end - start:.1f}s, of which it waited {waited:.1f}s for a CPU\n"
        f"{ran.describe()}"
    )


def test_a_failed_run_wrote_nothing_and_claims_no_write(failed, warehouse):
    trigger, record = failed
    params = trigger.parameters
    loaded = expected.records_loaded_pattern(params["batch_size"], params["target_table"])

    load_lines = record.task_log_messages("load")

    assert warehouse.rows(params["target_table"], record.flow_run.id) == []
    if trigger.refused_before_writing:  # (a load that tried may say what it was writing)
        assert not any(map(loaded.search, load_lines)), record.describe()  # claims no write


def test_a_failing_task_fails_the_flow_and_later_tasks_never_run(failed):
    trigger, record = failed
    task_ids = {t.task_run.id for t in record.task_runs}
    logging_tasks = {entry.task_run_id for entry in record.logs if entry.task_run_id}

    assert record.flow_run.state_name == "Failed", record.describe()
    assert sorted(name for name in trigger.tasks if record.tasks_named(name)) == sorted(
        trigger.tasks
    )
    assert len(record.task_runs) == len(trigger.tasks), record.describe()
    assert record.task(trigger.failing_task).task_run.state_name == "Failed"
    assert logging_tasks <= task_ids, "a task after the failing one wrote logs"


def test_a_failing_task_is_retried_three_times_then_fails(failed):
    trigger, record = failed
    failing = record.task(trigger.failing_task)
    policy = expected.TASK_POLICIES[trigger.failing_task]

    assert failing.task_run.run_count == policy.retries + 1, record.describe()
    assert failing.state_names == list(expected.retry_path(policy.retries)), record.describe()


def test_retries_are_two_seconds_apart(failed):
    trigger, record = failed
    delays = retry_delays(record.task(trigger.failing_task).states)
    delay_seconds = expected.TASK_POLICIES[trigger.failing_task].delay_seconds

    assert len(delays) == expected.TASK_RETRIES, record.describe()
    for delay in delays:
        assert delay.scheduled_seconds == pytest.approx(
            delay_seconds, abs=expected.DELAY_SCHEDULED_TOLERANCE_SECONDS
        ), delay
        assert (
            delay_seconds - expected.DELAY_EARLY_TOLERANCE_SECONDS
            <= delay.actual_seconds
            <= delay_seconds + expected.DELAY_LATE_TOLERANCE_SECONDS
        ), delay


def test_retries_are_announced_in_the_stored_logs(failed):
    _, record = failed

    for attempt in range(1, expected.TASK_RETRIES + 1):
        assert any(expected.announces_retry(m, attempt) for m in record.log_messages), (
            record.describe()
        )


def test_run_executed_the_projects_own_flow_exactly_once(settled, prefect_stack):
    run, record = settled
    ran = execution(prefect_stack.sandbox, run.flow_run_id)
    problems = [
        *source_problems(prefect_stack.sandbox.project_dir, ran, expected.FLOW_SCRIPT),
        *once_problems(record, ran),
    ]

    assert not problems, "\n".join([*problems, ran.describe()])


def test_worker_log_shows_the_run_submitted_and_its_output(settled, prefect_workers, prefect_stack):
    run, record = settled
    log, timeout = prefect_workers.log_paths, prefect_stack.runs.timeout
    final = re.compile(rf"Finished in state {run.trigger.final_state}")

    prefect_stack.monitor.wait_for_log_line(
        log, expected.worker_submission_pattern(run.flow_run_id), timeout=timeout
    )
    prefect_stack.monitor.wait_for_log_line(
        log, expected.worker_output_pattern(record.flow_run.name, final), timeout=timeout
    )


def test_worker_log_shows_each_retry(failed, prefect_workers, prefect_stack):
    trigger, record = failed
    failing = record.task(trigger.failing_task).task_run
    for attempt in range(1, expected.TASK_RETRIES + 1):
        announcement = expected.retry_announcement_pattern(attempt)
        lines = prefect_stack.monitor.wait_for_log_line(
            prefect_workers.log_paths,
            expected.task_output_pattern(failing.name, announcement),
            timeout=prefect_stack.runs.timeout,
        )
        assert any(expected.announces_retry(line, attempt) for line in lines), lines


def test_server_log_shows_its_activity_for_the_run(settled, prefect_stack, own_server):
    run, _ = settled

    prefect_stack.monitor.wait_for_log_line(
        own_server.process.log_path,
        expected.server_activity_pattern(run.flow_run_id),
        timeout=prefect_stack.runs.timeout,
    )


def test_flow_run_ls_lists_every_triggered_run_with_its_state(
    triggered_runs, prefect_runs, flow_runs_listed
):
    finals = {
        run.flow_run_id: (
            prefect_runs.wait_terminal(run.flow_run_id).name,
            run.trigger.final_state.upper(),
        )
        for run in triggered_runs.values()
    }
    listed = {row["ID"]: (row["Name"], row["State"]) for row in table_rows(flow_runs_listed.stdout)}

    assert {run_id: listed.get(run_id) for run_id in finals} == finals
