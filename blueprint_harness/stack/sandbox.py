"""A sandbox: the isolated world of one stack, its folders, port, database and child
environment ("session" is left to pytest's).

Every process the harness starts gets its environment from `Sandbox.env()`:
the caller's environment with every inherited `PREFECT_*` setting removed, then the
sandbox's own settings. So no child ever reads or writes the user's ~/.prefect profile,
and none can silently start a throwaway server (PREFECT_API_URL is always set).
"""

from __future__ import annotations

import os
import shutil
import sys
import tempfile
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

from blueprint_harness.backends import BACKENDS, DEFAULT_BACKEND, Allocation, Backend, Database
from blueprint_harness.backends.sqlite import SqliteDatabase, database_file
from blueprint_harness.backends.warehouses import Warehouse
from blueprint_harness.process import janitor
from blueprint_harness.process.ports import LOOPBACK, free_port
from blueprint_harness.stack.run_probe import probe_settings


@contextmanager
def isolated_process_settings() -> Iterator[Path]:
    """Keep *this* process's Prefect away from the user's settings while inside.

    Importing prefect (the flow module, in a unit test) creates and reads PREFECT_HOME,
    by default ~/.prefect: point it at a private folder and drop inherited PREFECT_*
    variables; restore both on the way out.
    """
    saved = {k: v for k, v in os.environ.items() if k.startswith("PREFECT_")}
    home = Path(tempfile.mkdtemp(prefix="prefect-harness-home-"))
    for key in saved:
        del os.environ[key]
    os.environ["PREFECT_HOME"] = str(home)
    try:
        yield home
    finally:
        os.environ.pop("PREFECT_HOME", None)
        os.environ.update(saved)
        shutil.rmtree(home, ignore_errors=True)


# Prefect's smallest heartbeat interval (it refuses less than 30 s).
HEARTBEAT_SECONDS = 30


def scrubbed_environ() -> dict[str, str]:
    """The caller's environment without any PREFECT_* setting, the venv first on PATH."""
    inherited = {k: v for k, v in os.environ.items() if not k.startswith("PREFECT_")}
    path = os.pathsep.join(filter(None, (str(venv_bin()), inherited.get("PATH"))))
    return {
        **inherited,
        janitor.OWNER: janitor.owner_tag(),  # a watchdog stops it if the session dies
        "PATH": path,  # as if the guide's `source .venv/bin/activate` had run
        "PYTHONUNBUFFERED": "1",
        "COLUMNS": "250",  # rich tables: full names instead of "local-process-…"
    }


def venv_bin() -> Path:
    """The folder of the interpreter running the harness: its `prefect` and `python`."""
    return Path(sys.executable).parent


@dataclass(frozen=True)
class Sandbox:
    """Folders, port, database and settings of one isolated stack."""

    root: Path
    project_dir: Path
    port: int
    database: Database
    backend: Backend = BACKENDS[DEFAULT_BACKEND]
    extras: tuple[Allocation, ...] = ()  # what else the backend keeps out of memory
    warehouse: Warehouse | None = None  # where the blueprint's load writes (None: unknown)
    worker_query_seconds: float = 1.0
    extra_settings: Mapping[str, str] = field(default_factory=dict)
    auth_string: str | None = None
    host: str = LOOPBACK
    # External mode: the API of a server someone else runs (no server of ours), the key
    # it takes, and the suffix that keeps this sandbox's pool and deployment its own.
    external_api_url: str | None = None
    api_key: str | None = field(default=None, repr=False)
    name_suffix: str = ""
    # Another Prefect's executables (a previous minor's venv) for the server, the workers,
    # their flow runs and the CLI; None: the harness's own.
    prefect_bin: Path | None = None

    @property
    def bin_dir(self) -> Path:
        return self.prefect_bin or venv_bin()

    @classmethod
    def create(
        cls,
        root: Path,
        project_dir: Path,
        *,
        port: int | None = None,
        database: Database | None = None,
        backend: Backend = BACKENDS[DEFAULT_BACKEND],
        extras: tuple[Allocation, ...] = (),
        warehouse: Warehouse | None = None,
        worker_query_seconds: float = 1.0,
        extra_settings: Mapping[str, str] | None = None,
        auth_string: str | None = None,
        external_api_url: str | None = None,
        api_key: str | None = None,
        name_suffix: str = "",
    ) -> Sandbox:
        """Lay out a new sandbox under `root` (which must not hold an earlier one).

        The default database is a fresh SQLite file in the sandbox's PREFECT_HOME.
        """
        sandbox = cls(
            root=root,
            project_dir=project_dir,
            port=port or free_port(),
            database=database or SqliteDatabase(database_file(root)),
            backend=backend,
            extras=extras,
            warehouse=warehouse,
            worker_query_seconds=worker_query_seconds,
            extra_settings=dict(extra_settings or {}),
            auth_string=auth_string,
            external_api_url=external_api_url,
            api_key=api_key,
            name_suffix=name_suffix,
        )
        for folder in (sandbox.home, sandbox.logs, sandbox.workdir):
            folder.mkdir(parents=True, exist_ok=True)
        return sandbox

    @property
    def name(self) -> str:
        """An id unique among concurrent sessions (it names the managed processes)."""
        return f"{self.root.name}-{os.getpid()}"

    @property
    def home(self) -> Path:
        return self.root / "prefect-home"

    @property
    def logs(self) -> Path:
        return self.root / "logs"

    @property
    def workdir(self) -> Path:
        """The neutral cwd of the server and worker: no stray .env or prefect.toml."""
        return self.root / "work"

    @property
    def base_url(self) -> str:
        """Where the server answers (its UI at the root)."""
        if self.external_api_url:
            return self.external_api_url.removesuffix("/api")
        return f"http://{self.host}:{self.port}"

    @property
    def api_url(self) -> str:
        return self.external_api_url or f"{self.base_url}/api"

    @property
    def profiles_path(self) -> Path:
        return self.home / "profiles.toml"

    @property
    def run_probe_record(self) -> Path:
        """What the witness in each flow-run process recorded (see stack/run_probe)."""
        return self.logs / "flow-run-processes.jsonl"

    def settings(self) -> dict[str, str]:
        """The Prefect settings every child of this sandbox runs with."""
        return {
            "PREFECT_HOME": str(self.home),
            "PREFECT_PROFILES_PATH": str(self.profiles_path),
            "PREFECT_API_URL": self.api_url,
            "PREFECT_SERVER_API_HOST": self.host,
            "PREFECT_SERVER_API_PORT": str(self.port),
            # The UI's API URL does not follow --port by itself.
            "PREFECT_SERVER_UI_API_URL": self.api_url,
            "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
            # INFO gives the guide's "Terminal B" view: scheduler activity, access lines.
            "PREFECT_SERVER_LOGGING_LEVEL": "INFO",
            "PREFECT_WORKER_QUERY_SECONDS": f"{self.worker_query_seconds:g}",
            # Plain, unwrapped CLI output that tests can read.
            "PREFECT_CLI_COLORS": "false",
            "PREFECT_CLI_WRAP_LINES": "false",
            "PREFECT_CLI_PROMPT": "false",
            # Flow runs send heartbeats, which the zombie automation watches (zombies.py).
            "PREFECT_FLOWS_HEARTBEAT_FREQUENCY": str(HEARTBEAT_SECONDS),
            **probe_settings(self.run_probe_record),
            **self.database.settings(),
            **{k: v for extra in self.extras for k, v in extra.settings().items()},
            **self.auth_settings(),
            **self.extra_settings,
        }

    def auth_settings(self) -> dict[str, str]:
        """Basic auth for the server and, with the same credentials, for every client; an
        API key for a server someone else runs."""
        settings = {"PREFECT_API_KEY": self.api_key} if self.api_key else {}
        if self.auth_string is not None:
            settings["PREFECT_API_AUTH_STRING"] = self.auth_string
            if not self.external_api_url:
                settings["PREFECT_SERVER_API_AUTH_STRING"] = self.auth_string
        return settings

    def release(self) -> None:
        """Give back what the backend lent this sandbox (its database, ...)."""
        for allocation in (self.database, *self.extras):
            allocation.release()
        if self.warehouse is not None:
            self.warehouse.release()

    def env(self, overrides: Mapping[str, str | None] | None = None) -> dict[str, str]:
        """The full child environment: the caller's, scrubbed of PREFECT_*, plus ours.

        An override of None removes that variable (e.g. to prove the profile alone works).
        """
        env = {**scrubbed_environ(), **self.settings()}
        if self.prefect_bin is not None:
            env["PATH"] = os.pathsep.join((str(self.prefect_bin), env["PATH"]))
        for key, value in (overrides or {}).items():
            if value is None:
                env.pop(key, None)
            else:
                env[key] = value
        return env
