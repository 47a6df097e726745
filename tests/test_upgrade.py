"""A Prefect upgrade in place and version skew: a server and database made by the previous
minor, holding the guide's deployment, its schedule and a finished run, upgraded with the
pinned Prefect (`prefect server database upgrade`); then history intact, upcoming runs
still at 09:00 Chicago, and the guide's triggers Complete, run by workers of this Prefect
and of the previous one."""

from __future__ import annotations

import pytest

from blueprint_harness.guide import expectations as expected
from blueprint_harness.guide.schedules import local_times
from blueprint_harness.stack.external import PREFECT_VERSION as prefect_version
from blueprint_harness.stack.previous import PREVIOUS_VERSION
from blueprint_harness.stack.upgrades import guides_triggers_with_workers, held

pytestmark = pytest.mark.upgrade


def test_this_client_refuses_the_previous_minors_server_naming_both_versions(on_previous):
    assert on_previous.held.server_version == PREVIOUS_VERSION
    assert PREVIOUS_VERSION in on_previous.refused, on_previous.refused
    assert prefect_version in on_previous.refused, on_previous.refused


def test_history_and_schedule_survive_the_upgrade(upgraded, on_previous):
    before, after = on_previous.held, held(upgraded.stack)

    assert after.server_version == prefect_version, after.describe()
    assert after.deployment.id == before.deployment.id, (before.describe(), after.describe())
    assert after.deployment.schedules == before.deployment.schedules
    assert after.finished.items() >= before.finished.items(), (before.describe(), after.describe())
    assert [s for s, _ in before.finished.values()] == ["Completed"]


def test_upcoming_runs_stay_at_9_in_chicago_after_the_upgrade(upgraded, on_previous):
    after = held(upgraded.stack)
    local = local_times(after.upcoming, expected.SCHEDULE_TIMEZONE)

    assert set(on_previous.held.upcoming) <= set(after.upcoming), after.describe()
    assert {(t.hour, t.minute) for t in local} == {(9, 0)}, after.describe()


@pytest.mark.parametrize("workers", ["current", "previous"])
def test_the_guides_triggers_reach_their_states_on_the_upgraded_server(
    upgraded, previous_bin, workers
):
    bin_dir = previous_bin if workers == "previous" else None
    outcomes = guides_triggers_with_workers(upgraded.stack, bin_dir)

    for outcome in outcomes:
        assert outcome.record.flow_run.state_name == outcome.trigger.final_state, outcome.describe()
        assert outcome.engine_prefix.startswith(str((bin_dir or outcome.own_bin).parent)), (
            outcome.describe()
        )
