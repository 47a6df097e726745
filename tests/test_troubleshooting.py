"""The guide's Troubleshooting table: each symptom is reproduced, then the guide's fix works."""

from __future__ import annotations

import pytest

from blueprint_harness.guide import expectations as expected
from blueprint_harness.guide.commands import list_work_pools
from blueprint_harness.stack.states import follows_path

pytestmark = pytest.mark.troubleshooting


def test_connection_refused_while_the_server_is_down(server_down):
    assert server_down.cli.returncode != 0
    assert expected.SERVER_DOWN_CLI_ERROR in server_down.cli.output
    assert server_down.script.returncode != 0
    assert expected.SERVER_DOWN_SCRIPT_ERROR in server_down.script.output


def test_the_same_command_works_once_the_server_runs(server_down, troubleshooting_stack):
    assert list_work_pools(troubleshooting_stack.cli).returncode == 0


def test_deploy_without_the_work_pool_says_it_does_not_exist(missing_pool):
    assert not missing_pool.pool_found_before
    assert missing_pool.deploy_without_pool.returncode == 1
    assert expected.MISSING_POOL_ERROR in missing_pool.deploy_without_pool.output


def test_deploy_works_once_the_work_pool_is_created(missing_pool):
    assert missing_pool.deploy_with_pool.returncode == 0
    assert f"Deployment '{expected.DEPLOYMENT_FULL_NAME}' successfully created" in (
        missing_pool.deploy_with_pool.stdout
    )


def test_a_run_goes_late_without_a_worker(late_run):
    assert late_run.late.state_name == expected.LATE_STATE
    assert late_run.late.state_type == "SCHEDULED"


def test_the_late_run_completes_once_a_worker_starts(late_run):
    names = late_run.finished.state_names

    assert late_run.finished.flow_run.state_name == "Completed", late_run.finished.describe()
    assert follows_path(
        names, ("Scheduled", expected.LATE_STATE, "Pending", "Running", "Completed")
    )


def test_import_error_outside_the_virtual_environment(missing_packages):
    assert missing_packages.outside_venv.returncode == 1
    assert expected.IMPORT_ERROR in missing_packages.outside_venv.stderr


def test_the_flow_runs_inside_the_virtual_environment(missing_packages):
    assert missing_packages.inside_venv.returncode == 0
    assert expected.COMPLETED_OUTPUT in missing_packages.inside_venv.output
