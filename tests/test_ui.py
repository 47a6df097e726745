"""The guide's checks by eye, in a real browser: Flow Runs, the deployment page, the
failing run's retries. Each test also carries the marker of the phase it belongs to."""

from __future__ import annotations

import pytest

from blueprint_harness.guide import expectations as expected
from blueprint_harness.guide.schedules import local_times

pytestmark = pytest.mark.ui


@pytest.mark.phase1
def test_the_local_run_is_completed_under_flow_runs(ui, local_run, prefect_api, prefect_runs):
    run = prefect_runs.wait_terminal(local_run.flow_run_id)

    ui.open("/v2/runs", "flow-runs")
    ui.check(ui.run_card(run.name), f"run {run.name!r} as Completed", text=expected.UI_COMPLETED)


@pytest.mark.phase2
def test_the_deployment_page_shows_its_schedule_and_next_run_at_9_chicago(
    ui, deployment, prefect_runs, guide_names
):
    upcoming = prefect_runs.wait_scheduled(deployment.deployment.id, at_least=1)[0]
    next_run = local_times([upcoming.expected_start_time], expected.SCHEDULE_TIMEZONE)[0]

    ui.open(f"/v2/deployments/deployment/{deployment.deployment.id}", "deployment")
    ui.check(ui.page.get_by_text(guide_names.deployment), "the deployment's name")
    ui.check(
        ui.page.get_by_text(expected.UI_SCHEDULE_WORDING),
        f"the schedule {expected.UI_SCHEDULE_WORDING!r}",
    )
    ui.check(ui.page.get_by_text(expected.UI_NEXT_RUN), f"the {expected.UI_NEXT_RUN!r} heading")
    ui.check(
        ui.run_card(upcoming.name),
        f"the next run at {next_run:%H:%M} Chicago time",
        text=next_run.strftime(expected.UI_DATE_FORMAT),
        reloading=True,
    )
    assert next_run.time() == expected.SCHEDULE_LOCAL_TIME


@pytest.mark.phase3
def test_the_failing_run_page_shows_failed_each_retry_and_the_timeline(
    ui, triggered_runs, prefect_runs
):
    """The guide's 3.5/3.6 by eye: the run as Failed, each retry in its logs, and the
    timeline, which draws a task run as one bar from its first attempt's start to its last
    attempt's end: the retries show as its length, their 3 waits of 2 s at least."""
    failing = triggered_runs["failing-url"]
    record = prefect_runs.wait_settled(failing.flow_run_id, tasks=failing.trigger.tasks)
    task = record.task(failing.trigger.failing_task).task_run
    policy = expected.TASK_POLICIES[failing.trigger.failing_task]
    waits = policy.retries * (policy.delay_seconds - expected.DELAY_EARLY_TOLERANCE_SECONDS)

    ui.open(f"/v2/runs/flow-run/{failing.flow_run_id}", "failing-run")
    ui.check(ui.page.get_by_text(expected.UI_FAILED, exact=True), "the run as Failed")
    for attempt in range(1, expected.TASK_RETRIES + 1):
        announcement = expected.retry_announcement_pattern(attempt)
        ui.check(ui.page.get_by_text(announcement), f"the log line of retry {attempt}/3")
    drawn = ui.drawn_node(
        ui.run_graph(failing.flow_run_id),
        task.id,
        colours=expected.UI_GRAPH_STATE_COLOURS,
        edge_px=expected.UI_GRAPH_EDGE_PIXELS,
        state_word=expected.UI_FAILED,
    )
    assert record.flow_run.state_name == "Failed"
    assert drawn.node.state_type == "FAILED", drawn
    assert drawn.seconds >= waits - drawn.tolerance_seconds, (
        f"{drawn}: shorter than its {policy.retries} retries' waits ({waits:.2f} s)"
    )
