"""The harness's options, declared once: name, help text, default and conversion.

The pytest layer (fixtures/options.py) declares each both as an ini key and as a flag
with the same help text; the command line wins over the ini file, and the result is one
frozen `HarnessConfig`. Scripts outside pytest start from `default_config()`.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Callable
from dataclasses import dataclass, field, fields, replace
from pathlib import Path
from typing import Any

from blueprint_harness.backends import BACKENDS, DEFAULT_BACKEND
from blueprint_harness.markers import JOBS
from blueprint_harness.process.launcher import Launcher
from blueprint_harness.process.managed import ProcessHost


class ConfigError(ValueError):
    """An option has a value the harness cannot use."""


def _positive_float(raw: str) -> float:
    value = float(raw)
    if value <= 0:
        raise ValueError("must be greater than 0")
    return value


def _positive_int(raw: str) -> int:
    value = int(raw)
    if value <= 0:
        raise ValueError("must be greater than 0")
    return value


def _boolean(raw: str) -> bool:
    value = raw.lower()
    if value not in {"true", "false", "1", "0", "yes", "no", "on", "off"}:
        raise ValueError("must be true or false")
    return value in {"true", "1", "yes", "on"}


def _optional_credentials(raw: str) -> str | None:
    if raw and ":" not in raw:
        raise ValueError("must be user:password")
    return raw or None


def _optional_path(raw: str) -> Path | None:
    return Path(raw).expanduser().resolve() if raw else None


def _api_url(raw: str) -> str | None:
    if raw == "env":  # the inherited PREFECT_API_URL, only when asked for by name
        raw = os.environ.get("PREFECT_API_URL", "")
        if not raw:
            raise ValueError("'env' was given but PREFECT_API_URL is not set")
    if raw and not raw.startswith(("http://", "https://")):
        raise ValueError("must be an http(s) URL of a Prefect API, such as http://host:4200/api")
    return raw.rstrip("/") or None


def _optional_warehouse(raw: str) -> str | None:
    if raw and not raw.startswith(("sqlite:///", "postgresql://", "postgres://")):
        raise ValueError("must be a sqlite:///path or postgresql://user:password@host/db URL")
    return raw or None


def _names(raw: str) -> str:
    if raw not in NAMING:
        raise ValueError(f"must be one of {', '.join(NAMING)}")
    return raw


def _job(raw: str) -> str | None:
    if raw and raw not in JOBS:
        raise ValueError(f"must be one of {', '.join(JOBS)}")
    return raw or None


def _backend(raw: str) -> str:
    if raw not in BACKENDS:
        raise ValueError(f"must be one of {', '.join(BACKENDS)}")
    return raw


@dataclass(frozen=True)
class Option:
    """One harness setting: its ini name (`prefect_<name>`), flag, help text and default."""

    name: str
    help: str
    default: str
    convert: Callable[[str], Any]

    @property
    def ini(self) -> str:
        return f"prefect_{self.name}"

    @property
    def flag(self) -> str:
        return "--prefect-" + self.name.replace("_", "-")

    @property
    def is_switch(self) -> bool:
        """A true/false option, which also works as a bare flag (--prefect-cleanup-runs)."""
        return self.convert is _boolean


NAMING = ("unique", "guide")

OPTIONS: tuple[Option, ...] = (
    Option(
        "job",
        "Run a named selection: 'main' (the main job: the manifest check, then phases 1-3, "
        "what scripts/verify and CI run) or 'phases' (phases 1-3); -m narrows it further.",
        "",
        _job,
    ),
    Option(
        "backend",
        "What the stacks run on: sqlite (the embedded default: one server on a SQLite file, "
        "one worker), postgresql (the same on a PostgreSQL server), or production "
        "(PostgreSQL, Redis, two API processes, the services apart, two workers).",
        DEFAULT_BACKEND,
        _backend,
    ),
    Option(
        "api_url",
        "Verify the blueprint on a Prefect server someone else runs, at this API URL (or "
        "'env': the inherited PREFECT_API_URL): no server is started, a local worker serves "
        "it, and only what the session made is removed at the end. Credentials: "
        "--prefect-auth-string or PREFECT_API_KEY.",
        "",
        _api_url,
    ),
    Option(
        "names",
        "On a server someone else runs: 'unique' (each session's pool and deployment carry "
        "a suffix of its own) or 'guide' (the guide's exact names, for a dedicated server; "
        "refused if they exist already).",
        "unique",
        _names,
    ),
    Option(
        "cleanup_runs",
        "On a server someone else runs: remove at the end the flow runs the session made "
        "(its local run, its triggers, the scheduler's runs of its deployment), as it "
        "removes its pool and deployment; false keeps the runs for inspection.",
        "true",
        _boolean,
    ),
    Option(
        "warehouse_url",
        "On a server someone else runs: the warehouse its flow runs write to (the URL its "
        "`warehouse_url` Variable holds: sqlite:///path or postgresql://...), so the data "
        "checks can read it; without it they are skipped, saying so.",
        "",
        _optional_warehouse,
    ),
    Option(
        "startup_timeout",
        "Seconds a managed server or worker may take to become ready.",
        "120",
        _positive_float,
    ),
    Option(
        "run_timeout",
        "Seconds a flow run may take from trigger to a terminal state.",
        "180",
        _positive_float,
    ),
    Option(
        "log_dir",
        "Folder for session logs (server, worker, CLI transcripts); default: pytest's "
        "temporary directory, which keeps the last three sessions.",
        "",
        _optional_path,
    ),
    Option(
        "log_tail",
        "Lines of each process log shown in failure reports and timeout messages.",
        "40",
        _positive_int,
    ),
    Option(
        "project_dir",
        "The blueprint project to verify (holds prefect.yaml and flows/); "
        "default: the pytest rootdir.",
        "",
        _optional_path,
    ),
    Option(
        "db_template",
        "Start each server from a cached, already migrated SQLite database (per Prefect "
        "version) instead of migrating a fresh file; each session still gets its own copy.",
        "true",
        _boolean,
    ),
    Option(
        "auth_string",
        "Run servers with basic auth on (PREFECT_SERVER_API_AUTH_STRING, as user:password); "
        "the harness and every child then authenticate with it.",
        "",
        _optional_credentials,
    ),
    Option(
        "chromium",
        "The Chromium the UI checks drive (Debian's: apt-get install chromium).",
        "/usr/bin/chromium",
        str,
    ),
    Option(
        "ui_screenshots",
        "Save a screenshot of every page the UI checks look at (failures always get one).",
        "false",
        _boolean,
    ),
    Option(
        "report",
        "Write a self-contained HTML report here at the end (pytest-html, with each flow "
        "run's story and timeline, the phases, the timings and the UI screenshots).",
        "",
        _optional_path,
    ),
    Option(
        "summary",
        "Write a Markdown summary here at the end (also appended to $GITHUB_STEP_SUMMARY "
        "when that is set).",
        "",
        _optional_path,
    ),
    Option(
        "cpu_accounting",
        "Account every CPU-second of the session by kind of process (servers, workers, flow "
        "runs, each CLI command, Chromium, pytest), from the kernel's process accounting, "
        "in the terminal summary and the reports; needs root (CAP_SYS_PACCT).",
        "false",
        _boolean,
    ),
    Option(
        "worker_query_seconds",
        "The worker's poll interval (PREFECT_WORKER_QUERY_SECONDS) in the test stack.",
        "1",
        _positive_float,
    ),
)


@dataclass(frozen=True)
class HarnessConfig:
    """The resolved options of one session."""

    job: str | None
    backend: str
    api_url: str | None
    names: str
    cleanup_runs: bool
    warehouse_url: str | None
    startup_timeout: float
    run_timeout: float
    log_dir: Path | None
    log_tail: int
    project_dir: Path | None
    db_template: bool
    auth_string: str | None
    chromium: str
    ui_screenshots: bool
    report: Path | None
    summary: Path | None
    cpu_accounting: bool
    worker_query_seconds: float
    # Read from the environment, not an option: a key does not belong on a command line.
    api_key: str | None = field(default=None, repr=False)

    @property
    def external(self) -> bool:
        """Whether the session verifies a server someone else runs."""
        return self.api_url is not None

    def process_host(self, launcher: Launcher) -> ProcessHost:
        """Where the session's processes start (`launcher`), with its bounds."""
        return ProcessHost(launcher, self.startup_timeout, self.log_tail)


def resolve(cli: Callable[[str], str | None], ini: Callable[[str], str]) -> HarnessConfig:
    """Build the config: a command-line value wins, then pytest.ini, then the default."""
    values: dict[str, Any] = {}
    for option in OPTIONS:
        raw = cli(option.ini)
        source = option.flag
        if raw is None:
            raw, source = ini(option.ini), f"{option.ini} (ini)"
        try:
            values[option.name] = option.convert(str(raw).strip())
        except ValueError as error:
            raise ConfigError(f"{source}={raw!r} is not valid: {error}") from None
    assert {f.name for f in fields(HarnessConfig)} == set(values) | {"api_key"}
    return HarnessConfig(**values, api_key=os.environ.get("PREFECT_API_KEY") or None)


def default_config() -> HarnessConfig:
    """Every option at its default: for scripts that use the harness outside pytest."""
    defaults = {option.ini: option.default for option in OPTIONS}
    return resolve(lambda _: None, defaults.__getitem__)


PROJECT_FILES = ("prefect.yaml", "flows/data_pipeline.py")


def check_project(path: Path) -> Path:
    """`path` if it holds the files the guide runs, else a `ConfigError` naming them."""
    missing = [name for name in PROJECT_FILES if not (path / name).is_file()]
    if missing:
        raise ConfigError(
            f"{path} is not a blueprint project: missing {', '.join(missing)} "
            "(set --prefect-project-dir or prefect_project_dir)"
        )
    return path


def checked(config: HarnessConfig, rootdir: Path) -> HarnessConfig:
    """`config` once its folders are shown usable (a bad one is a `ConfigError` before
    anything starts), with the project folder resolved (default: `rootdir`)."""
    if config.log_dir is not None:
        check_writable(config.log_dir, "log_dir")
    return replace(config, project_dir=check_project(config.project_dir or rootdir))


def check_writable(path: Path, option: str) -> Path:
    """`path` if a folder can be made and written there, else a `ConfigError` saying why."""
    try:
        path.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryFile(dir=path):
            pass
    except OSError as error:
        raise ConfigError(
            f"--prefect-{option.replace('_', '-')} / prefect_{option}: {path} is not a "
            f"writable folder ({error.strerror or error}); choose another"
        ) from None
    return path
