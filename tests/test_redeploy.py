"""Redeploys onto a live server, as a team's CI job makes them: the guide's deployment
with upcoming runs and finished runs, deployed again unchanged, then with a new schedule,
zone, default and description, then with its schedules emptied."""

from __future__ import annotations

import pytest

from blueprint_harness.guide import expectations as expected
from blueprint_harness.guide.data import load_problems
from blueprint_harness.manifest import variants
from blueprint_harness.manifest.strict import CLEAR_SCHEDULES_SETTING

pytestmark = pytest.mark.redeploy


def test_an_unchanged_redeploy_keeps_the_deployment_and_its_history(
    first_deploy, unchanged_redeploys
):
    for again in unchanged_redeploys:
        assert again.deployment.id == first_deploy.deployment.id
        assert again.finished == first_deploy.finished
    assert len(first_deploy.finished) == 2
    assert {state for state, _ in first_deploy.finished.values()} == {"Completed"}


def test_each_run_of_the_same_batch_loads_its_own_rows(first_deploy, checkout):
    params = expected.DEFAULT_PARAMETERS
    wanted = expected.expected_rows(params["source_url"], params["batch_size"])

    for run_id in first_deploy.finished:
        assert not load_problems(checkout.warehouse, params["target_table"], run_id, wanted)


def test_an_unchanged_redeploy_never_doubles_an_upcoming_slot(first_deploy, unchanged_redeploys):
    for deployed in (first_deploy, *unchanged_redeploys):
        assert deployed.slots.as_expected, deployed.slots.describe()
        assert len(deployed.slots.runs) >= expected.SCHEDULER_MIN_RUNS, deployed.slots.describe()


def test_a_changed_schedule_moves_every_upcoming_run(changed_redeploy):
    before, after = changed_redeploy.before.slots, changed_redeploy.after.slots

    assert after.as_expected, after.describe()
    assert not set(after.times) & set(before.times), (before.describe(), after.describe())
    schedules = [(s.cron, s.timezone) for s in changed_redeploy.after.deployment.schedules]
    assert schedules == [(variants.CHANGED_SCHEDULE["cron"], variants.CHANGED_SCHEDULE["timezone"])]


def test_new_runs_take_the_new_defaults_and_finished_runs_keep_theirs(
    changed_redeploy, checkout, first_deploy
):
    deployment = changed_redeploy.after.deployment
    params = {**expected.DEFAULT_PARAMETERS, "batch_size": variants.CHANGED_BATCH_SIZE}
    table = params["target_table"]
    new_rows = expected.expected_rows(params["source_url"], params["batch_size"])
    old_rows = expected.expected_rows(
        params["source_url"], expected.DEFAULT_PARAMETERS["batch_size"]
    )

    assert deployment.parameters == params
    assert deployment.description == variants.CHANGED_DESCRIPTION
    assert not load_problems(checkout.warehouse, table, changed_redeploy.run_id, new_rows)
    for run_id in first_deploy.finished:
        assert not load_problems(checkout.warehouse, table, run_id, old_rows)
    assert changed_redeploy.after.finished.items() >= first_deploy.finished.items()


def test_an_emptied_schedules_list_is_named_before_prefect_keeps_the_old_schedule(
    emptied_redeploy,
):
    named = [p for p in emptied_redeploy.check.problems if p.field == "schedules"]
    kept = [(s.cron, s.timezone) for s in emptied_redeploy.kept.schedules]
    drifted = [d.field for d in emptied_redeploy.drift.differences]

    assert named, emptied_redeploy.check.describe()
    assert CLEAR_SCHEDULES_SETTING in named[0].message
    assert kept == [(variants.CHANGED_SCHEDULE["cron"], variants.CHANGED_SCHEDULE["timezone"])]
    assert drifted == ["schedules"], emptied_redeploy.drift.describe()


def test_told_to_clear_an_emptied_schedules_list_leaves_nothing_scheduled(cleared_redeploy):
    assert cleared_redeploy.deployment.schedules == ()
    assert cleared_redeploy.slots.runs == (), cleared_redeploy.slots.describe()
