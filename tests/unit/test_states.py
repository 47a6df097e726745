"""Ordered state paths and retry delays, read from state histories."""

from datetime import UTC, datetime, timedelta

import pytest

from blueprint_harness.stack.models import State
from blueprint_harness.stack.states import follows_path, format_history, retry_delays

pytestmark = pytest.mark.unit

T0 = datetime(2026, 1, 1, 12, 0, tzinfo=UTC)


def state(name, seconds, type_="RUNNING", scheduled_in=None):
    at = T0 + timedelta(seconds=seconds)
    scheduled = at + timedelta(seconds=scheduled_in) if scheduled_in is not None else None
    return State(type=type_, name=name, timestamp=at, scheduled_time=scheduled)


@pytest.mark.parametrize(
    ("seen", "path", "expected"),
    [
        (
            ["Scheduled", "Pending", "Submitting", "Running", "Completed"],
            ["Scheduled", "Pending", "Running", "Completed"],
            True,
        ),
        (
            ["Scheduled", "Late", "Pending", "Running", "Completed"],
            ["Scheduled", "Pending", "Running", "Completed"],
            True,
        ),
        (
            ["Scheduled", "Running", "Pending", "Completed"],
            ["Scheduled", "Pending", "Running", "Completed"],
            False,
        ),
        (
            ["Scheduled", "Pending", "Running", "Failed"],
            ["Scheduled", "Pending", "Running", "Completed"],
            False,
        ),
        (["Pending", "Running", "Completed"], ["Scheduled", "Pending"], False),
        ([], [], True),
    ],
)
def test_follows_path_is_an_ordered_subsequence(seen, path, expected):
    assert follows_path(seen, path) is expected


def test_retry_delays_pair_each_failure_with_the_next_restart():
    states = [
        state("Pending", 0, "PENDING"),
        state("Running", 0.01),
        state("AwaitingRetry", 0.02, "SCHEDULED", scheduled_in=2.0),
        state("Retrying", 2.05),
        state("AwaitingRetry", 2.06, "SCHEDULED", scheduled_in=2.0),
        state("Retrying", 4.5),
        state("Failed", 4.6, "FAILED"),
    ]

    delays = retry_delays(states)

    assert [d.attempt for d in delays] == [1, 2]
    assert [d.scheduled_seconds for d in delays] == pytest.approx([2.0, 2.0])
    assert [d.actual_seconds for d in delays] == pytest.approx([2.03, 2.44])


def test_a_failure_never_restarted_has_no_delay():
    states = [
        state("AwaitingRetry", 0, "SCHEDULED", scheduled_in=2.0),
        state("Failed", 1, "FAILED"),
    ]

    assert retry_delays(states) == []


def test_format_history_lists_each_state_with_its_message():
    failed = State("FAILED", "Failed", T0, message="boom")

    assert format_history([failed]) == "  Failed (FAILED) at 12:00:00.000000: boom"
    assert format_history([]) == "  (no states recorded)"
