"""Where a session's time goes: spans, the critical path, retry delays."""

import json
from datetime import UTC, datetime, timedelta

import pytest

from blueprint_harness.stack.states import RetryDelay
from blueprint_harness.stack.timings import DEPLOY, SERVER_START, WORK_POOL, Timings

pytestmark = pytest.mark.unit


def test_the_critical_path_is_server_pool_deploy_and_the_slowest_run():
    timings = Timings()
    timings.record(SERVER_START, 7.0)
    timings.record(WORK_POOL, 2.0)
    timings.record(DEPLOY, 3.0)
    timings.record_run("default", 10.0)
    timings.record_run("failing-url", 15.0)

    assert timings.critical_path() == 27.0
    assert timings.runs == {
        "run default: trigger to terminal": 10.0,
        "run failing-url: trigger to terminal": 15.0,
    }


def test_no_critical_path_until_a_run_has_ended():
    timings = Timings()
    timings.record(SERVER_START, 7.0)

    assert timings.critical_path() is None


def test_retry_delays_are_recorded_apart_from_run_times(tmp_path):
    failed = datetime(2026, 1, 1, tzinfo=UTC)
    delay = RetryDelay(1, failed, failed + timedelta(seconds=2), failed + timedelta(seconds=2.004))
    timings = Timings()
    timings.record_retry_delays("failing-url", [delay])
    timings.write(tmp_path / "timings.json")

    spans = json.loads((tmp_path / "timings.json").read_text())["spans"]
    assert spans == {
        "run failing-url: retry 1 delay (scheduled)": 2.0,
        "run failing-url: retry 1 delay (actual)": 2.004,
    }
    assert timings.runs == {}
    assert "run failing-url: retry 1 delay (actual): 2.004s" in timings.summary()
