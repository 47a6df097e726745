"""Teardown, tested from outside: whatever ends a session (a pass, a failure, Ctrl-C,
SIGTERM, a closed terminal, a test timeout, even SIGKILL), nothing of it is left running;
what a session killed with its watchdog left, the next session stops; and a server that
dies mid-session is reported at once."""

from __future__ import annotations

import os
import re
import signal
from functools import partial

import pytest

from support.outside import (
    WATCHDOG_BOUND_SECONDS,
    describe_processes,
    kill_with_its_watchdog,
    port_is_free,
    processes_under,
    run_inner_pytest,
    send,
    side_by_side,
    write_inner_project,
)

pytestmark = pytest.mark.teardown

# An inner session with its server, its worker and a flow run in flight when the test
# body runs; the body then ends the way INNER_MODE says.
INNER_TEST = """
import os, pathlib, signal, time

import pytest

from blueprint_harness.guide.faults import start_long_run

MODE = os.environ["INNER_MODE"]


@pytest.fixture
def run_in_flight(prefect_stack, prefect_workers, deployment):
    return start_long_run(prefect_stack)


@pytest.mark.timeout(5 if MODE == "timeout" else 600)
def test_session_with_a_run_in_flight(run_in_flight, prefect_stack, own_server):
    pathlib.Path(os.environ["INNER_READY_FILE"]).touch()
    if MODE == "fail":
        pytest.fail("failing on purpose")
    if MODE in ("interrupt", "timeout"):
        time.sleep(600)
    if MODE == "server-dies":
        os.kill(own_server.process.pid, signal.SIGKILL)
        killed = time.monotonic()
        try:
            prefect_stack.runs.wait_terminal(run_in_flight.flow_run_id)
        finally:
            print(f"DETECTED AFTER {time.monotonic() - killed:.1f}s")
"""
DETECTED = re.compile(r"DETECTED AFTER ([0-9.]+)s")

SCENARIOS = {
    "passing": ("pass", None, 0),
    "failing": ("fail", None, 1),
    "ctrl-c": ("interrupt", send(signal.SIGINT, whole_group=True), 2),
    "sigterm": ("interrupt", send(signal.SIGTERM), 2),
    "closed-terminal": ("interrupt", send(signal.SIGHUP, whole_group=True), 2),
    "sigkill": ("interrupt", send(signal.SIGKILL), -signal.SIGKILL),
    "test-timeout": ("timeout", None, 1),
    "server-dies": ("server-dies", None, 1),
}
SIGNALLED = ["ctrl-c", "sigterm", "closed-terminal", "sigkill"]


def end_a_session(scratch, scenario):
    mode, ending, _ = SCENARIOS[scenario]
    args = write_inner_project(scratch, INNER_TEST)
    env = {**os.environ, "INNER_MODE": mode}
    return run_inner_pytest(scratch, args, env=env, ending=ending)


@pytest.fixture(scope="module")
def ended_sessions(tmp_path_factory):
    """Every scenario's inner session, run side by side (each takes ~30 s alone)."""
    return side_by_side(
        {
            scenario: partial(end_a_session, tmp_path_factory.mktemp(scenario), scenario)
            for scenario in SCENARIOS
        }
    )


@pytest.mark.parametrize("scenario", SCENARIOS)
def test_nothing_is_left_running_and_the_port_is_free(scenario, ended_sessions):
    inner, exit_code = ended_sessions[scenario], SCENARIOS[scenario][2]
    ports = [card["port"] for card in inner.cards()]

    assert inner.returncode == exit_code, inner.describe()
    assert ports, inner.describe()
    inner.wait_until_nothing_is_left(timeout=WATCHDOG_BOUND_SECONDS)
    assert all(port_is_free(port) for port in ports)


@pytest.fixture(scope="module")
def killed_with_its_watchdog(tmp_path_factory):
    """A session SIGKILLed together with its watchdog (what is left), then a later one."""
    scratch = tmp_path_factory.mktemp("killed-with-watchdog")
    args = write_inner_project(scratch, INNER_TEST)
    env = {**os.environ, "INNER_MODE": "interrupt"}
    killed = run_inner_pytest(scratch, args, env=env, ending=kill_with_its_watchdog)
    left = describe_processes(processes_under(scratch))
    later = run_inner_pytest(
        scratch, [*args, "--collect-only"], env=env, log_dir=scratch / "later-logs"
    )
    return killed, left, later


def test_a_later_session_stops_what_a_session_killed_with_its_watchdog_left(
    killed_with_its_watchdog,
):
    killed, left, later = killed_with_its_watchdog
    ports = [card["port"] for card in killed.cards()]

    assert killed.returncode == -signal.SIGKILL, killed.describe()
    assert any("server start" in line for line in left), left
    assert any("worker start" in line for line in left), left
    assert later.returncode == 0, later.describe()
    assert "left running by sessions that are gone" in later.output, later.describe()
    assert processes_under(killed.scratch) == []
    assert ports, killed.describe()
    assert all(port_is_free(port) for port in ports)


def test_a_server_dying_mid_session_is_reported_within_seconds_with_its_log(ended_sessions):
    inner = ended_sessions["server-dies"]
    detected = DETECTED.search(inner.output)

    assert "prefect server" in inner.output, inner.describe()
    assert "exited with code -9 while tests still needed it" in inner.output, inner.describe()
    assert "prefect-server.log" in inner.output
    assert detected, inner.describe()
    assert float(detected.group(1)) < 10


@pytest.mark.parametrize("scenario", SIGNALLED)
def test_the_signal_came_while_server_worker_and_flow_run_were_running(scenario, ended_sessions):
    alive = " ".join(ended_sessions[scenario].alive_at_signal)

    assert "server start" in alive
    assert "worker start" in alive
    assert "prefect.engine" in alive
