"""Bad input gets a clear error where it is first seen, and harms nothing else."""

from __future__ import annotations

from functools import partial

import pytest

from fixtures.guide import expectations as guide
from fixtures.guide.commands import created_run_id, run_deployment
from fixtures.stack.api import ApiError

pytestmark = pytest.mark.bad_input


def manual_run_ids(api, deployment):
    """Runs someone asked for (the scheduler adds its own right after a deploy)."""
    runs = api.deployment_flow_runs(deployment.deployment.id)
    return {run.id for run in runs if not run.auto_scheduled}


@pytest.mark.parametrize(
    ("args", "message"),
    [
        pytest.param(
            ("--param", "batch_size=abc"),
            "Validation failed for field 'batch_size'. Failure reason: 'abc' is not of type "
            "'integer'",
            id="non-integer",
        ),
        pytest.param(
            ("--param", "batch_size=0"),
            "Validation failed for field 'batch_size'. Failure reason: 0 is less than or "
            "equal to the minimum of 0",
            id="zero",
        ),
        pytest.param(
            ("--param", "batch_size=-5"),
            "Validation failed for field 'batch_size'. Failure reason: -5 is less than or "
            "equal to the minimum of 0",
            id="negative",
        ),
        pytest.param(
            ("--param", "target_table=metrics"),
            "Validation failed for field 'target_table'",
            id="table-not-qualified",
        ),
        pytest.param(
            ("--params", '{"batch_size": 200, "target_table": "warehouse.test.metrics"'),
            "Failed to parse JSON",
            id="malformed-json",
        ),
        pytest.param(
            ("--param", "colour=red"),
            "The following parameters were specified but not found on the deployment: 'colour'",
            id="unknown-name",
        ),
    ],
)
def test_the_cli_refuses_bad_parameters_and_creates_no_run(
    args, message, prefect_cli, prefect_api, deployment
):
    before = manual_run_ids(prefect_api, deployment)

    result = run_deployment(prefect_cli, *args, expect=None)

    assert result.returncode == 1
    assert message in result.output
    assert created_run_id(result) is None
    assert manual_run_ids(prefect_api, deployment) == before


@pytest.mark.parametrize(
    ("parameters", "field"),
    [({"batch_size": "abc"}, "batch_size"), ({"batch_size": 0}, "batch_size")],
    ids=["non-integer", "zero"],
)
def test_the_api_refuses_bad_parameters_naming_the_field(
    parameters, field, prefect_api, deployment
):
    with pytest.raises(ApiError) as refused:
        prefect_api.create_flow_run(deployment.deployment.id, parameters)

    assert refused.value.status_code == 409
    assert f"Validation failed for field '{field}'" in str(refused.value.detail)


def test_an_unknown_parameter_sent_to_the_api_ends_the_run_naming_it(
    prefect_api, prefect_runs, deployment, prefect_workers
):
    """The API does not check names (the CLI does): the run itself must say what is wrong."""
    run = prefect_api.create_flow_run(deployment.deployment.id, {"colour": "red"})

    assert prefect_runs.wait_terminal(run.id).state_type in {"CRASHED", "FAILED"}
    prefect_runs.wait_for_message(run.id, "'colour'")


BAD_SOURCE_URLS = {
    "malformed": ("not a url", "it must be an http(s) URL with a host"),
    "wrong-scheme": ("ftp://files.example.com/metrics", "it must be an http(s) URL with a host"),
    "unreachable": (
        "https://api.unreachable.invalid/v2",
        "'api.unreachable.invalid' does not resolve",
    ),
}


@pytest.fixture(scope="module")
def bad_source_url_runs(prefect_cli, deployment, prefect_workers):
    """One run per bad URL, triggered together (each spends 6 s in retries)."""
    results = prefect_cli.concurrently(
        [
            partial(run_deployment, prefect_cli, "--param", f"source_url={url}")
            for url, _ in BAD_SOURCE_URLS.values()
        ]
    )
    return dict(zip(BAD_SOURCE_URLS, map(created_run_id, results), strict=True))


@pytest.mark.parametrize("case", BAD_SOURCE_URLS)
def test_a_bad_source_url_fails_in_extract_after_its_retries(
    case, bad_source_url_runs, prefect_runs
):
    _, message = BAD_SOURCE_URLS[case]
    record = prefect_runs.wait_settled(bad_source_url_runs[case], tasks=(guide.RETRYING_TASK,))
    extract = record.task(guide.RETRYING_TASK)

    assert record.flow_run.state_name == "Failed", record.describe()
    assert extract.task_run.run_count == guide.TASK_RETRIES + 1
    assert message in (record.states[-1].message or ""), record.describe()


def test_nothing_else_is_harmed_by_bad_input(
    prefect_api, prefect_cli, prefect_runs, deployment, prefect_workers
):
    after = prefect_api.deployment(guide.FLOW_NAME, guide.DEPLOYMENT_NAME)
    run = run_deployment(prefect_cli)

    assert after == deployment.deployment
    assert prefect_runs.wait_terminal(created_run_id(run)).state_name == "Completed"
