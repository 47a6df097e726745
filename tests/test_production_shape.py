"""The production shape is what it claims: nothing left in memory, migrations once, the API
in two processes with the services apart, two workers on the pool."""

from __future__ import annotations

import pytest

from blueprint_harness.backends.redis import in_memory_settings
from blueprint_harness.guide import expectations as expected
from blueprint_harness.stack.sandbox import venv_bin

pytestmark = [pytest.mark.production, pytest.mark.phase2]


def test_no_server_setting_is_left_in_memory(prefect_stack):
    session = prefect_stack.sandbox

    assert in_memory_settings(venv_bin() / "python", session.env(), session.workdir) == {}


def test_the_api_runs_in_two_processes_and_the_services_in_their_own(own_server):
    server = own_server

    assert len(server.api_processes()) == 2
    assert server.services is not None
    assert server.services.is_running()
    for process in server.api_processes():
        assert process.environ()["PREFECT_SERVER_DATABASE_MIGRATE_ON_START"] == "false"


def test_migrations_ran_once_before_the_api_started(prefect_stack, own_server):
    database = prefect_stack.sandbox.database
    api_log = own_server.process.log_path.read_text()

    assert database.migration_version()
    assert "Running upgrade" not in api_log
    assert "Perpetual services: 0 enabled" in api_log  # no services in the API processes


def test_two_workers_poll_the_pool(prefect_workers, prefect_api):
    registered = {w.name: w.status for w in prefect_api.workers(expected.WORK_POOL_NAME)}

    assert len(prefect_workers.workers) == 2
    assert [registered.get(name) for name in prefect_workers.names] == ["ONLINE", "ONLINE"]


def test_the_check_sees_a_setting_left_in_memory(prefect_stack):
    session = prefect_stack.sandbox
    without_docket = session.env({"PREFECT_SERVER_DOCKET_URL": None})

    left = in_memory_settings(venv_bin() / "python", without_docket, session.workdir)

    assert left == {"server.docket.url": "memory://"}
