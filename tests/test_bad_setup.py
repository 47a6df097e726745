"""Bad set-up gets a clear error and leaves nothing running: a busy port, an unwritable log
folder, a server that cannot be ready in time."""

from __future__ import annotations

from dataclasses import replace

import pytest

from blueprint_harness.process.managed import ProcessDied, StartupTimeout
from blueprint_harness.process.ports import occupied_port
from blueprint_harness.stack.sandbox import Sandbox
from blueprint_harness.stack.server import running_server
from support.outside import processes_under, run_inner_pytest

pytestmark = pytest.mark.bad_input


@pytest.fixture
def unstarted_session(tmp_path, harness_config):
    """A session of its own whose server a test starts (and fails to start) itself."""

    def create(**options):
        return Sandbox.create(tmp_path / "session", harness_config.project_dir, **options)

    return create


def test_a_busy_port_fails_at_once_naming_the_port(unstarted_session, harness_processes, tmp_path):
    with occupied_port() as port:
        session = unstarted_session(port=port)

        with (
            pytest.raises(ProcessDied, match="during start-up") as error,
            running_server(harness_processes, session),
        ):
            pass

    assert f"Port {port} is already in use" in str(error.value)
    assert processes_under(tmp_path) == []


def test_a_start_up_timeout_says_what_it_waited_for_and_stops_the_server(
    unstarted_session, harness_processes, tmp_path
):
    session = unstarted_session()

    with (
        pytest.raises(StartupTimeout) as error,
        running_server(replace(harness_processes, startup_timeout=0.5), session),
    ):
        pass

    assert "did not become ready within 0.5s" in str(error.value)
    assert f"Expected: HTTP 200 from GET {session.api_url}/ready" in str(error.value)
    assert processes_under(tmp_path) == []


def test_an_unwritable_log_folder_is_a_usage_error_before_anything_starts(tmp_path):
    not_a_folder = tmp_path / "a-file"
    not_a_folder.write_text("")

    inner = run_inner_pytest(tmp_path, ["-m", "phase1"], log_dir=not_a_folder / "logs")

    assert inner.returncode == pytest.ExitCode.USAGE_ERROR, inner.describe()
    assert "is not a writable folder" in inner.output
    assert processes_under(tmp_path) == []
