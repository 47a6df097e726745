"""Phase 1 of the guide: Prefect 3 installed, server running, API URL configured, local run
successful and visible as Completed."""

from __future__ import annotations

import pytest

from blueprint_harness.guide import expectations as expected
from blueprint_harness.guide.data import load_problems
from blueprint_harness.stack.cli_output import config_setting, key_values
from blueprint_harness.stack.states import follows_path

pytestmark = pytest.mark.phase1


def test_prefect_3_is_installed_and_serves_the_api(installed_version, prefect_api):
    fields = key_values(installed_version.stdout)

    assert fields["Version"].split(".")[0] == str(expected.PREFECT_MAJOR_VERSION), fields
    assert prefect_api.server_version().split(".")[0] == str(expected.PREFECT_MAJOR_VERSION)


def test_the_server_is_this_prefect_on_the_sessions_database(
    installed_version, prefect_api, prefect_stack, own_server
):
    fields = key_values(installed_version.stdout)

    assert fields["Database"] == prefect_stack.sandbox.backend.database, fields
    assert prefect_api.server_version() == fields["Version"]


def test_server_is_running_at_its_api_url(prefect_api):
    assert prefect_api.get("health") is True
    assert prefect_api.is_ready()


def test_the_servers_processes_are_running(own_server, prefect_stack):
    expected_processes = 2 if prefect_stack.sandbox.backend.services_apart else 1

    assert len(own_server.processes) == expected_processes
    assert all(process.is_running() for process in own_server.processes)


def test_api_url_is_configured_in_the_sessions_own_profile(prefect_stack, api_url_configured):
    api_url = prefect_stack.sandbox.api_url
    seen = config_setting(api_url_configured.view.stdout, "PREFECT_API_URL")

    assert seen == (api_url, "profile")
    assert api_url in prefect_stack.sandbox.profiles_path.read_text()


def test_local_run_exits_zero_and_prints_its_logs(local_run):
    output = local_run.cli.output

    assert f"for flow '{expected.FLOW_NAME}'" in output
    assert expected.records_loaded_pattern(
        expected.DEFAULT_PARAMETERS["batch_size"], expected.DEFAULT_PARAMETERS["target_table"]
    ).search(output), output
    assert expected.COMPLETED_OUTPUT in output


def test_local_run_is_completed_in_the_api_under_the_flow_name(
    local_run, prefect_api, prefect_runs
):
    record = prefect_runs.wait_settled(local_run.flow_run_id, tasks=expected.TASKS)

    assert record.flow_run.state_name == "Completed"
    assert follows_path(record.state_names, expected.LOCAL_RUN_PATH), record.describe()
    assert prefect_api.get(f"flows/{record.flow_run.flow_id}")["name"] == expected.FLOW_NAME
    assert record.flow_run.parameters == dict(expected.DEFAULT_PARAMETERS)


def test_local_run_task_runs_completed_and_logs_stored(local_run, prefect_runs):
    record = prefect_runs.wait_settled(local_run.flow_run_id, tasks=expected.TASKS)

    params = expected.DEFAULT_PARAMETERS
    loaded = expected.records_loaded_pattern(params["batch_size"], params["target_table"])

    for task in expected.TASKS:
        assert record.task(task).task_run.state_name == "Completed", record.describe()
    assert any(map(loaded.search, record.task_log_messages("load"))), record.describe()


def test_local_run_loaded_exactly_its_rows_into_the_warehouse(
    local_run, prefect_runs, local_run_warehouse
):
    record = prefect_runs.wait_settled(local_run.flow_run_id, tasks=expected.TASKS)
    params = expected.DEFAULT_PARAMETERS
    wanted = expected.expected_rows(params["source_url"], params["batch_size"])

    assert record.flow_run.state_name == "Completed", record.describe()
    assert not load_problems(
        local_run_warehouse, params["target_table"], local_run.flow_run_id, wanted
    )


def test_runs_are_stored_in_the_sessions_own_database(local_run, prefect_stack, own_server):
    assert local_run.flow_run_id in prefect_stack.sandbox.database.flow_run_ids()


def test_ui_is_served_and_points_at_this_server(prefect_stack, prefect_api, own_server):
    page = prefect_api.ui_page("/")

    assert "<html" in page.lower()
    assert prefect_api.ui_settings()["api_url"] == prefect_stack.sandbox.api_url
