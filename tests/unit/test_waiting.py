"""Bounded waits return what they waited for, or say what they saw."""

import itertools

import pytest

from blueprint_harness.process.waiting import WaitTimeout, wait_for

pytestmark = pytest.mark.unit


def test_returns_the_first_value_that_meets_the_condition():
    counter = itertools.count()

    assert (
        wait_for(lambda: next(counter), lambda n: n >= 3, timeout=5, expected="3", interval=0.01)
        == 3
    )


def test_timeout_says_what_was_expected_seen_and_where_to_look():
    with pytest.raises(WaitTimeout) as error:
        wait_for(
            lambda: "Running",
            lambda state: state == "Completed",
            timeout=0.2,
            interval=0.05,
            expected="the run to complete",
            describe=lambda state: f"state {state}",
            diagnostics=lambda: "server log: /tmp/x.log",
        )

    message = str(error.value)
    assert "waiting for the run to complete" in message
    assert "Last seen: state Running" in message
    assert "server log: /tmp/x.log" in message


def test_a_failing_liveness_check_ends_the_wait_at_once():
    class Died(Exception):
        pass

    def dead():
        raise Died("server exited")

    with pytest.raises(Died):
        wait_for(lambda: 1, lambda _: False, timeout=60, expected="never", on_poll=dead)
