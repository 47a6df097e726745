"""The expectations agree with themselves and with how the guide's commands parse."""

import json

import pytest

from blueprint_harness.guide import expectations as expected

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


@pytest.mark.parametrize("trigger", expected.TRIGGERS, ids=lambda t: t.key)
def test_each_triggers_overrides_are_what_its_cli_arguments_say(trigger):
    assert cli_overrides(trigger.cli_args) == dict(trigger.overrides)


def test_the_failing_table_is_the_contracts_reserved_schema_and_fails_in_load():
    failing = expected.TRIGGERS_BY_KEY["failing-table"]

    assert failing.parameters["target_table"].split(".")[1] == "invalid"
    assert failing.final_state == "Failed"
    assert failing.failing_task == expected.SINK_TASK


def test_the_failing_url_fails_in_extract_before_anything_is_written():
    failing = expected.TRIGGERS_BY_KEY["failing-url"]

    assert failing.failing_task == expected.SOURCE_TASK
    assert failing.path == expected.FAILED_PATH
    assert failing.tasks == expected.TASKS[: expected.TASKS.index(expected.SOURCE_TASK) + 1]


@pytest.mark.parametrize("retries", [0, 1, 3])
def test_retry_path_has_an_await_and_a_restart_per_retry(retries):
    path = expected.retry_path(retries)

    assert path[:2] == ("Pending", "Running")
    assert path[-1] == "Failed"
    assert path[2:-1] == ("AwaitingRetry", "Retrying") * retries


def test_defaults_cannot_be_changed_at_run_time():
    with pytest.raises(TypeError):
        expected.DEFAULT_PARAMETERS["batch_size"] = 1  # type: ignore[index]


def test_log_patterns_match_the_lines_they_are_meant_for_in_any_wording():
    loaded = expected.records_loaded_pattern(50, "warehouse.test.metrics")

    assert loaded.search("Pipeline finished: loaded 50 records into warehouse.test.metrics")
    assert loaded.search("Wrote warehouse.test.metrics: 50 rows")
    assert not loaded.search("loaded 500 records into warehouse.test.metrics")
    assert not loaded.search("loaded 50 records into warehouse.test.metrics_old")
    assert loaded.search("Loaded 50 records into warehouse.test.metrics.")  # a full stop
    assert not loaded.search("loaded 50 records into warehouse.test.metrics.old")


@pytest.mark.parametrize(
    ("found", "same"),
    [
        ("flows/data_pipeline.py:enterprise_data_pipeline", True),
        ("./flows/data_pipeline.py:enterprise_data_pipeline", True),
        ("flows//data_pipeline.py:enterprise_data_pipeline", True),
        ("flows/data_pipeline.py:other", False),
        ("other/data_pipeline.py:enterprise_data_pipeline", False),
        (None, False),
    ],
)
def test_entrypoints_are_compared_as_paths_not_as_spelled(found, same):
    from blueprint_harness.manifest.declared import same_entrypoint

    assert same_entrypoint(found, expected.ENTRYPOINT) is same


@pytest.mark.parametrize("delay", ["2", "2.0", "2.00"])
def test_a_retry_announcement_is_read_by_its_delays_value(delay):
    line = f"Task run failed with exception: X - Retry 2/3 will start {delay} second(s) from now"

    assert expected.announces_retry(line, 2)
    assert not expected.announces_retry(line, 1)
    assert not expected.announces_retry(line.replace("2/3", "2/4"), 2)
    assert not expected.announces_retry(line.replace(f"{delay} second", "3 second"), 2)


def test_the_embedded_default_backend_is_the_guides_sqlite():
    from blueprint_harness.backends import BACKENDS
    from blueprint_harness.config import default_config

    assert BACKENDS[default_config().backend].database == expected.DATABASE
