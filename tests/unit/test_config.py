"""Options resolve command line over ini over default, into one frozen config."""

import dataclasses
from pathlib import Path

import pytest

from blueprint_harness.config import (
    OPTIONS,
    ConfigError,
    check_project,
    check_writable,
    default_config,
    resolve,
)

pytestmark = pytest.mark.unit

DEFAULTS = {option.ini: option.default for option in OPTIONS}


def resolved(cli=None, ini=None):
    cli, ini = cli or {}, {**DEFAULTS, **(ini or {})}
    return resolve(cli.get, ini.__getitem__)


def test_defaults():
    config = default_config()

    assert config.startup_timeout == 120
    assert config.run_timeout == 180
    assert config.log_dir is None
    assert config.project_dir is None
    assert config.worker_query_seconds == 1


def test_command_line_wins_over_ini():
    config = resolved(cli={"prefect_run_timeout": "30"}, ini={"prefect_run_timeout": "60"})

    assert config.run_timeout == 30


def test_ini_wins_over_default():
    assert resolved(ini={"prefect_startup_timeout": "45"}).startup_timeout == 45


def test_paths_are_made_absolute(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)

    assert resolved(cli={"prefect_log_dir": "logs"}).log_dir == Path(tmp_path, "logs")


@pytest.mark.parametrize(
    ("name", "value"),
    [("prefect_run_timeout", "soon"), ("prefect_run_timeout", "0"), ("prefect_log_tail", "-1")],
)
def test_a_bad_value_names_the_flag_and_the_problem(name, value):
    with pytest.raises(ConfigError, match=rf"--{name.replace('_', '-')}='{value}' is not valid"):
        resolved(cli={name: value})


def test_a_bad_ini_value_names_the_ini_key():
    with pytest.raises(ConfigError, match=r"prefect_log_tail \(ini\)='many'"):
        resolved(ini={"prefect_log_tail": "many"})


def test_config_is_frozen():
    with pytest.raises(dataclasses.FrozenInstanceError):
        resolved().run_timeout = 1  # type: ignore[misc]


def test_every_option_has_a_flag_and_help():
    for option in OPTIONS:
        assert option.flag.startswith("--prefect-")
        assert option.help.endswith(".") or option.help.endswith(")")


def test_a_log_folder_that_cannot_be_made_is_refused(tmp_path):
    blocker = tmp_path / "a-file"
    blocker.write_text("")

    with pytest.raises(
        ConfigError, match=r"--prefect-log-dir / prefect_log_dir: .* not a writable"
    ):
        check_writable(blocker / "logs", "log_dir")


def test_a_folder_without_the_blueprint_is_not_a_project(tmp_path):
    with pytest.raises(ConfigError, match=r"missing prefect\.yaml, flows/data_pipeline\.py"):
        check_project(tmp_path)
