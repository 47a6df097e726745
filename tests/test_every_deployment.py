"""Every deployment the manifest declares, not only the guide's: a copy of the blueprint
with a second deployment (another schedule, zone and defaults) deployed with `prefect
deploy --all`; each registers, schedules its upcoming runs at its declared times in its
zone, and runs with its defaults to Completed with its data loaded. Broken variants are
refused before anything is deployed, naming the deployment and the field."""

from __future__ import annotations

import contextlib

import pytest

from blueprint_harness.guide import expectations as expected
from blueprint_harness.guide.data import load_problems
from blueprint_harness.manifest import variants
from blueprint_harness.manifest.declared import same_flow_file
from blueprint_harness.manifest.problems import ManifestProblems
from blueprint_harness.stack.checkouts import Checkout
from blueprint_harness.stack.cli import CommandFailed

pytestmark = pytest.mark.every_deployment

GUIDE_SCHEDULE = {"cron": expected.SCHEDULE_CRON, "timezone": expected.SCHEDULE_TIMEZONE}
DECLARED = {
    expected.DEPLOYMENT_NAME: (dict(expected.DEFAULT_PARAMETERS), GUIDE_SCHEDULE),
    variants.SECOND_DEPLOYMENT: (variants.SECOND_PARAMETERS, variants.SECOND_SCHEDULE),
}


@pytest.mark.parametrize("name", DECLARED)
def test_deploy_all_registers_each_declared_deployment(every_deployment, name):
    found = every_deployment.deployment(name)
    parameters, _ = DECLARED[name]

    assert same_flow_file(found.entrypoint, expected.FLOW_SCRIPT), found.entrypoint
    assert found.work_pool_name == expected.WORK_POOL_NAME
    assert found.parameters == parameters


@pytest.mark.parametrize("name", DECLARED)
def test_each_schedule_makes_upcoming_runs_at_its_times_in_its_zone(every_deployment, name):
    _, schedule = DECLARED[name]
    slots = every_deployment.wait_slots(name, quiet=False, schedule=schedule)

    assert slots.as_expected, slots.describe()
    assert len(slots.runs) >= expected.SCHEDULER_MIN_RUNS, slots.describe()


@pytest.mark.parametrize("name", DECLARED)
def test_a_run_of_each_with_its_defaults_completes_with_its_data(every_deployment, name):
    parameters, _ = DECLARED[name]
    run = every_deployment.run_default(name)
    record = every_deployment.stack.runs.wait_settled(run.flow_run_id, tasks=expected.TASKS)
    wanted = expected.expected_rows(parameters["source_url"], parameters["batch_size"])

    assert record.flow_run.state_name == "Completed", record.describe()
    assert not load_problems(
        every_deployment.warehouse, parameters["target_table"], run.flow_run_id, wanted
    )


BROKEN = {b.key: b for b in (*variants.BROKEN, variants.POOL_NOT_ON_SERVER)}


@pytest.mark.parametrize("key", ["bad-entrypoint", "refused-default", "pool-not-on-server"])
def test_deploy_all_refuses_a_broken_variant_naming_deployment_and_field(changes_stack, key):
    broken = BROKEN[key]
    checkout = Checkout(changes_stack, changes_stack.sandbox.root / f"broken-{key}")
    checkout.edit(broken.edit)
    before = deployments(changes_stack)

    with pytest.raises(ManifestProblems) as refused:
        checkout.deploy()

    kept = deployments(changes_stack)
    # The same manifest through Prefect alone: it deploys what it can before it stops (or
    # all of it), so a server left as it was is the check's doing.
    with contextlib.suppress(CommandFailed):
        checkout.deploy(check=False)

    named = {(p.deployment, p.field) for p in refused.value.problems}
    assert (broken.deployment, broken.field) in named, str(refused.value)
    assert all(word in str(refused.value) for word in broken.says)
    assert kept == before, "nothing is deployed"
    assert deployments(changes_stack) != before, "Prefect alone would have deployed some"


def deployments(stack):
    """Each deployment on the server, as last updated."""
    return {(d["id"], d["updated"]) for d in stack.api.every("deployments/filter")}
