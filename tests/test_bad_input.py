"""Bad input gets a clear error where it is first seen, and harms nothing else."""

from __future__ import annotations

import json
from functools import partial

import pytest

from blueprint_harness.guide import expectations as expected
from blueprint_harness.guide.commands import created_run_id, run_deployment
from blueprint_harness.guide.data import load_problems
from blueprint_harness.guide.steps import deferred
from blueprint_harness.stack.api import ApiError

pytestmark = pytest.mark.bad_input


def manual_run_ids(api, deployment):
    """Runs someone asked for (the scheduler adds its own right after a deploy)."""
    runs = api.deployment_flow_runs(deployment.deployment.id)
    return {run.id for run in runs if not run.auto_scheduled}


def param_args(parameters):
    """`--param name=value` as a person types it (numbers bare, strings unquoted)."""
    args = []
    for name, value in parameters.items():
        args += ["--param", f"{name}={value if isinstance(value, str) else json.dumps(value)}"]
    return tuple(args)


CLI_REFUSALS = {
    **{
        case: (param_args(parameters), expected.validation_failed(next(iter(parameters))))
        for case, parameters in expected.INVALID_PARAMETERS.items()
    },
    "malformed-json": (
        ("--params", '{"batch_size": 200, "target_table": "warehouse.test.metrics"'),
        expected.MALFORMED_JSON_ERROR,
    ),
    "unknown-name": (("--param", "colour=red"), expected.unknown_parameter_error("colour")),
}


@pytest.mark.parametrize("case", CLI_REFUSALS)
def test_the_cli_refuses_bad_parameters_and_creates_no_run(
    case, prefect_cli, prefect_api, deployment, guide_names
):
    args, message = CLI_REFUSALS[case]
    before = manual_run_ids(prefect_api, deployment)

    result = run_deployment(prefect_cli, *args, names=guide_names, expect=None)

    assert result.returncode == 1
    assert message in result.output
    assert created_run_id(result) is None
    assert manual_run_ids(prefect_api, deployment) == before


@pytest.mark.parametrize("case", expected.INVALID_PARAMETERS)
def test_the_api_refuses_bad_parameters_naming_the_field(case, prefect_api, deployment):
    parameters = expected.INVALID_PARAMETERS[case]

    with pytest.raises(ApiError) as refused:
        prefect_api.create_flow_run(deployment.deployment.id, dict(parameters))

    assert refused.value.status_code == 409
    assert expected.validation_failed(next(iter(parameters))) in str(refused.value.detail)


@pytest.mark.parametrize("case", expected.VALID_EDGE_PARAMETERS)
def test_the_edges_of_what_is_allowed_are_accepted_and_load_every_row(
    case, prefect_api, prefect_runs, deployment, prefect_workers, warehouse
):
    parameters = expected.VALID_EDGE_PARAMETERS[case]
    run = prefect_api.create_flow_run(deployment.deployment.id, dict(parameters))
    params = {**expected.DEFAULT_PARAMETERS, **parameters}
    wanted = expected.expected_rows(params["source_url"], params["batch_size"])

    assert prefect_runs.wait_terminal(run.id).state_name == "Completed"
    assert not load_problems(warehouse, params["target_table"], run.id, wanted)


def test_an_unknown_parameter_sent_to_the_api_ends_the_run_naming_it(
    prefect_api, prefect_runs, deployment, prefect_workers
):
    """The API does not check names (the CLI does): the run itself must say what is wrong."""
    run = prefect_api.create_flow_run(deployment.deployment.id, {"colour": "red"})

    assert prefect_runs.wait_terminal(run.id).state_type in {"CRASHED", "FAILED"}
    prefect_runs.wait_for_message(run.id, "'colour'")


@pytest.fixture(scope="module")
def unfetchable_source_runs(prefect_cli, deployment, prefect_workers, guide_names):
    """One run per unfetchable URL, triggered together (each spends 6 s in retries)."""

    def trigger():
        deployment.result()  # a deployment the blueprint broke fails the tests, named
        results = prefect_cli.concurrently(
            [
                partial(
                    run_deployment, prefect_cli, "--param", f"source_url={url}", names=guide_names
                )
                for url in expected.UNFETCHABLE_SOURCE_URLS.values()
            ]
        )
        ids = map(created_run_id, results)
        return dict(zip(expected.UNFETCHABLE_SOURCE_URLS, ids, strict=True))

    return deferred(trigger)


@pytest.mark.parametrize("case", expected.UNFETCHABLE_SOURCE_URLS)
def test_an_unfetchable_source_url_fails_in_extract_after_its_retries_naming_it(
    case, unfetchable_source_runs, prefect_runs
):
    url = expected.UNFETCHABLE_SOURCE_URLS[case]
    record = prefect_runs.wait_settled(unfetchable_source_runs[case], tasks=(expected.SOURCE_TASK,))
    extract = record.task(expected.SOURCE_TASK)

    assert record.flow_run.state_name == "Failed", record.describe()
    assert extract.task_run.run_count == expected.TASK_RETRIES + 1
    assert url in (record.states[-1].message or ""), record.describe()


def test_nothing_else_is_harmed_by_bad_input(
    prefect_api, prefect_cli, prefect_runs, deployment, prefect_workers, guide_names
):
    after = prefect_api.deployment(expected.FLOW_NAME, guide_names.deployment)
    run = run_deployment(prefect_cli, names=guide_names)

    assert after == deployment.deployment
    assert prefect_runs.wait_terminal(created_run_id(run)).state_name == "Completed"
