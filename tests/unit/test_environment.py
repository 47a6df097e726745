"""The session environment isolates every child from the user's Prefect settings."""

import pytest

from blueprint_harness.stack.sandbox import Sandbox, free_port, venv_bin

pytestmark = pytest.mark.unit


@pytest.fixture
def session(tmp_path):
    return Sandbox.create(tmp_path / "s", tmp_path, port=4321)


def test_inherited_prefect_settings_are_dropped(session, monkeypatch):
    monkeypatch.setenv("PREFECT_PROFILES_PATH", "/home/user/.prefect/profiles.toml")
    monkeypatch.setenv("PREFECT_LOGGING_LEVEL", "DEBUG")

    env = session.env()

    assert env["PREFECT_PROFILES_PATH"] == str(session.home / "profiles.toml")
    assert "PREFECT_LOGGING_LEVEL" not in env


def test_the_api_url_is_always_set_to_the_sessions_server(session):
    env = session.env()

    assert env["PREFECT_API_URL"] == "http://127.0.0.1:4321/api"
    assert env["PREFECT_SERVER_UI_API_URL"] == env["PREFECT_API_URL"]
    assert env["PREFECT_HOME"] == str(session.home)
    assert env["PREFECT_SERVER_ANALYTICS_ENABLED"] == "false"


def test_the_rest_of_the_environment_is_kept_and_the_venv_comes_first(session, monkeypatch):
    monkeypatch.setenv("MY_TOKEN", "x")

    env = session.env()

    assert env["MY_TOKEN"] == "x"
    assert env["PATH"].split(":")[0] == str(venv_bin())


def test_an_override_of_none_removes_a_variable(session):
    assert "PREFECT_API_URL" not in session.env({"PREFECT_API_URL": None})


def test_extra_settings_reach_every_child(tmp_path):
    session = Sandbox.create(tmp_path / "s", tmp_path, extra_settings={"PREFECT_X": "1"})

    assert session.env()["PREFECT_X"] == "1"


def test_sessions_get_their_own_folders_and_port(session):
    assert session.home.is_dir()
    assert session.logs.is_dir()
    assert session.workdir.is_dir()
    assert session.database.settings()["PREFECT_SERVER_DATABASE_CONNECTION_URL"].endswith(
        str(session.home / "prefect.db")
    )
    assert 0 < free_port() < 65536
