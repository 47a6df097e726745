"""The expectations agree with themselves and with how the guide's commands parse."""

import json

import pytest

from fixtures.guide import expectations as guide

pytestmark = pytest.mark.unit


def cli_overrides(cli_args):
    """Parse `--param k=v` (JSON where it parses, like Prefect) and `--params '{...}'`."""
    overrides, args = {}, list(cli_args)
    while args:
        flag, value = args.pop(0), args.pop(0)
        if flag == "--params":
            overrides.update(json.loads(value))
        else:
            key, _, raw = value.partition("=")
            try:
                overrides[key] = json.loads(raw)
            except json.JSONDecodeError:
                overrides[key] = raw
    return overrides


@pytest.mark.parametrize("trigger", guide.TRIGGERS, ids=lambda t: t.key)
def test_each_triggers_overrides_are_what_its_cli_arguments_say(trigger):
    assert cli_overrides(trigger.cli_args) == dict(trigger.overrides)


def test_triggers_are_the_guides_four_steps():
    assert [t.key for t in guide.TRIGGERS] == [
        "default",
        "param-overrides",
        "json-params",
        "failing-url",
    ]
    assert guide.TRIGGERS_BY_KEY["param-overrides"].parameters["batch_size"] == 50
    assert guide.TRIGGERS_BY_KEY["json-params"].parameters == {
        "batch_size": 200,
        "source_url": guide.DEFAULT_PARAMETERS["source_url"],
        "target_table": "warehouse.test.metrics",
    }


def test_only_the_failing_url_fails_and_it_stops_at_the_retrying_task():
    failing = guide.TRIGGERS_BY_KEY["failing-url"]

    assert [t.key for t in guide.TRIGGERS if t.final_state == "Failed"] == ["failing-url"]
    assert failing.path == guide.FAILED_PATH
    assert failing.tasks == (guide.RETRYING_TASK,)


def test_retry_path_has_an_await_and_a_restart_per_retry():
    assert guide.retry_path(3) == (
        "Pending",
        "Running",
        "AwaitingRetry",
        "Retrying",
        "AwaitingRetry",
        "Retrying",
        "AwaitingRetry",
        "Retrying",
        "Failed",
    )


def test_defaults_cannot_be_changed_at_run_time():
    with pytest.raises(TypeError):
        guide.DEFAULT_PARAMETERS["batch_size"] = 1  # type: ignore[index]


def test_log_patterns_match_the_lines_they_are_meant_for():
    assert guide.records_loaded_pattern(50, "warehouse.test.metrics").search(
        "Pipeline finished: loaded 50 records into warehouse.test.metrics"
    )
    assert not guide.records_loaded_pattern(50, "warehouse.test.metrics").search(
        "loaded 500 records into warehouse.test.metrics"
    )
    assert guide.retry_announcement_pattern(2).search(
        "Task run failed with exception: X - Retry 2/3 will start 2 second(s) from now"
    )
    assert not guide.retry_announcement_pattern(2).search("Retry 2/4 will start 2 second(s)")


def test_the_embedded_default_backend_is_the_guides_sqlite():
    from fixtures.backends import BACKENDS
    from fixtures.config import default_config

    assert BACKENDS[default_config().backend].database == guide.DATABASE
