"""Security: loopback only, the user's Prefect home never touched, basic auth honoured."""

from __future__ import annotations

import os
from functools import partial

import httpx
import psutil
import pytest

from blueprint_harness.guide import expectations as expected
from blueprint_harness.guide.commands import list_work_pools, run_flow_locally
from blueprint_harness.process.ports import LOOPBACK
from pytest_prefect_blueprint.factories import sandbox_fixture, stack_fixture
from support.outside import run_inner_pytest, side_by_side

pytestmark = pytest.mark.security

CREDENTIALS = "harness:s3cret-for-tests"
POISONED_URL = "http://127.0.0.1:9/api"  # nothing listens on port 9 (discard)
POISONED_PROFILE = f"""\
active = "production"

[profiles.production]
PREFECT_API_URL = "{POISONED_URL}"
PREFECT_LOGGING_LEVEL = "CRITICAL"
"""

auth_sandbox = sandbox_fixture(
    scope="module", label="auth", auth_string=CREDENTIALS, own_server=True
)
auth_stack = stack_fixture(sandbox="auth_sandbox", scope="module")


def listening_addresses(pid):
    return {
        conn.laddr.ip
        for conn in psutil.Process(pid).net_connections(kind="inet")
        if conn.status == psutil.CONN_LISTEN
    }


def test_the_server_listens_on_loopback_only(own_server):
    server = own_server

    assert listening_addresses(server.process.pid) == {LOOPBACK}
    assert all(listening_addresses(p.pid) <= {LOOPBACK} for p in server.api_processes())
    if server.services is not None:
        assert listening_addresses(server.services.pid) == set()


def test_the_workers_listen_nowhere(prefect_workers):
    for worker in prefect_workers.workers:
        assert listening_addresses(worker.process.pid) == set()


# Phase 1 without its UI check (a machine without Chromium skips that one, saying so).
PHASE_1 = ["-m", "phase1 and not ui"]


def passed_each(inner, held):
    """Whether an inner session ran and passed each of the `held` tests, skipping none."""
    outcomes = inner.outcomes()
    not_passed = {"failed", "skipped", "error", "errors", "xfailed", "xpassed"}
    return held > 0 and outcomes.get("passed") == held and not not_passed & set(outcomes)


def phase_tests_held(args, scratch):
    """How many tests an inner session with these arguments holds (it must pass each)."""
    return run_inner_pytest(scratch, [*args, "--collect-only", "-q"]).output.count("::")


@pytest.fixture(scope="module")
def hostile_home_and_auth_sessions(own_servers, tmp_path_factory):
    """Phase 1 run twice from outside, side by side: once by a user whose own Prefect
    settings point at a production server, once with basic auth turned on."""
    home = tmp_path_factory.mktemp("user-home")
    profile = home / ".prefect" / "profiles.toml"
    profile.parent.mkdir()
    profile.write_text(POISONED_PROFILE)
    user_env = {
        **os.environ,
        "HOME": str(home),
        "PREFECT_API_URL": POISONED_URL,
        "PREFECT_PROFILES_PATH": str(profile),
    }
    ended = side_by_side(
        {
            "hostile": partial(
                run_inner_pytest,
                tmp_path_factory.mktemp("hostile"),
                PHASE_1,
                env=user_env,
            ),
            "auth": partial(
                run_inner_pytest,
                tmp_path_factory.mktemp("auth"),
                [*PHASE_1, f"--prefect-auth-string={CREDENTIALS}"],
            ),
        }
    )
    held = phase_tests_held(PHASE_1, tmp_path_factory.mktemp("collected"))
    return home, profile.stat(), ended["hostile"], ended["auth"], held


def test_the_users_prefect_settings_are_neither_used_nor_changed(hostile_home_and_auth_sessions):
    home, before, hostile, _, held = hostile_home_and_auth_sessions
    profile = home / ".prefect" / "profiles.toml"

    assert hostile.returncode == 0, hostile.describe()
    assert passed_each(hostile, held), hostile.describe()
    assert profile.read_text() == POISONED_PROFILE
    assert profile.stat().st_mtime_ns == before.st_mtime_ns
    assert sorted(p.name for p in (home / ".prefect").iterdir()) == ["profiles.toml"]


def test_phase_1_passes_with_basic_auth_on(hostile_home_and_auth_sessions):
    *_, auth, held = hostile_home_and_auth_sessions

    assert auth.returncode == 0, auth.describe()
    assert passed_each(auth, held), auth.describe()


def test_with_auth_on_the_api_refuses_calls_without_credentials(auth_stack):
    response = httpx.post(f"{auth_stack.sandbox.api_url}/flow_runs/filter", json={})

    assert response.status_code == 401


def test_with_auth_on_the_cli_without_credentials_is_refused(auth_stack):
    cli = auth_stack.cli
    refused = cli.prefect(
        "work-pool", "ls", expect=None, env=cli.env_without("PREFECT_API_AUTH_STRING")
    )

    assert refused.returncode == 1
    assert "401" in refused.output or "Unauthorized" in refused.output


def test_with_auth_on_the_guides_commands_work_with_credentials(auth_stack):
    local = run_flow_locally(auth_stack.cli)

    assert list_work_pools(auth_stack.cli).returncode == 0
    assert auth_stack.runs.wait_terminal(local.flow_run_id).state_name == "Completed"
    assert auth_stack.api.flow_run(local.flow_run_id).parameters == dict(
        expected.DEFAULT_PARAMETERS
    )
