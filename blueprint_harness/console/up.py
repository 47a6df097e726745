"""`blueprint up`: the blueprint's stack in one terminal, for people who look around by hand.

Brings up what the guide spreads over three terminals (the server, the work pool, the
worker, the deployment) on the embedded default or another backend, prints the UI's URL
and the guide's trigger commands ready to paste, streams the server's and the workers'
logs with a prefix each, and on Ctrl-C stops everything, leaving nothing running. It is
the harness's own lifecycle (the same context managers the fixtures wrap), not a copy.

    blueprint up                        # SQLite, one server, one worker
    blueprint up --backend production   # PostgreSQL, Redis, 2 API processes, 2 workers
"""

from __future__ import annotations

import argparse
import re
import shlex
import sys
import tempfile
import threading
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import replace
from pathlib import Path

from blueprint_harness.backends import (
    BACKENDS,
    DEFAULT_BACKEND,
    BackendUnavailable,
    check_installed,
)
from blueprint_harness.config import ConfigError, check_project, default_config
from blueprint_harness.guide import expectations
from blueprint_harness.guide.bring_up import phase_two
from blueprint_harness.process.launcher import PopenLauncher
from blueprint_harness.process.session import owned_session
from blueprint_harness.stack.stack import AnyStack
from blueprint_harness.stack.standalone import standalone_stack

READY = "ready in"  # the line that says the stack is up (tests wait for it)
FOLLOW_INTERVAL_SECONDS = 0.2
# The workers' once-a-second polling, which would bury everything else (kept in the files).
POLLING = re.compile(r'"(POST|PATCH) /api/work_pools/[^ ]+/(get_scheduled_flow_runs|workers/)')


def follow(path: Path, prefix: str, stop: threading.Event) -> None:
    """Print the lines a log file gains, each after `prefix`, until `stop` is set."""
    offset = 0
    while not stop.is_set():
        if path.exists():
            with path.open(errors="replace") as log:
                log.seek(offset)
                for line in log:
                    if not line.endswith("\n"):
                        break  # half a line: read it whole next time
                    offset += len(line.encode(errors="replace"))
                    if not POLLING.search(line):
                        print(f"{prefix} {line}", end="", flush=True)
        stop.wait(FOLLOW_INTERVAL_SECONDS)


@contextmanager
def streaming(logs: Sequence[tuple[str, Path]]) -> Iterator[None]:
    stop = threading.Event()
    threads = [
        threading.Thread(target=follow, args=(path, f"[{name}]", stop), daemon=True)
        for name, path in logs
    ]
    for thread in threads:
        thread.start()
    try:
        yield
    finally:
        stop.set()
        for thread in threads:
            thread.join(timeout=2)


def banner(stack: AnyStack, project: Path, seconds: float) -> str:
    """The URLs and the guide's commands, ready to paste into another terminal."""
    sandbox = stack.sandbox
    lines = [
        "",
        f"The blueprint's stack is up ({sandbox.backend.describe()}).",
        f"  UI:   {sandbox.base_url}",
        f"  API:  {sandbox.api_url}",
        f"  logs: {sandbox.logs}",
        "",
        "In another terminal:",
        f"  cd {shlex.quote(str(project))} && source .venv/bin/activate",
        f"  export PREFECT_API_URL={sandbox.api_url}",
    ]
    for trigger in expectations.TRIGGERS:
        args = shlex.join(["prefect", "deployment", "run", expectations.DEPLOYMENT_FULL_NAME])
        lines.append(f"  {' '.join([args, *map(shlex.quote, trigger.cli_args)])}")
    lines += ["  prefect flow-run ls", "", f"{READY} {seconds:.1f}s; Ctrl-C stops everything.", ""]
    return "\n".join(lines)


def up(backend: str, project: Path) -> None:
    """Bring the stack up, show it, stream its logs until interrupted, then stop it."""
    began = time.monotonic()
    config = replace(default_config(), backend=backend, project_dir=project)
    scratch = Path(tempfile.mkdtemp(prefix="blueprint-up-"))
    host = config.process_host(PopenLauncher())
    with standalone_stack(host, scratch, config) as stack, phase_two(stack) as deployed:
        fleet = deployed.workers
        server = stack.server
        logs = [("server", server.process.log_path)]
        if server.services is not None:
            logs.append(("services", server.services.log_path))
        logs += [
            (w.process.log_path.stem.removeprefix("prefect-"), w.process.log_path)
            for w in fleet.workers
        ]
        print(banner(stack, project, time.monotonic() - began), flush=True)
        with streaming(logs):
            threading.Event().wait()  # until Ctrl-C (or SIGTERM, SIGHUP) interrupts


def add_parser(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """`blueprint up [--backend ...] [--project-dir ...]`."""
    parser = commands.add_parser("up", help="bring the stack up; Ctrl-C stops it")
    parser.add_argument("--backend", choices=sorted(BACKENDS), default=DEFAULT_BACKEND)
    parser.add_argument(
        "--project-dir", type=Path, default=Path.cwd(), help="the blueprint (default: here)"
    )
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    """Until Ctrl-C, SIGTERM or SIGHUP (0), or a usage error (2)."""
    try:
        project = check_project(args.project_dir.resolve())
        check_installed(args.backend)
        with owned_session():
            up(args.backend, project)
    except (ConfigError, BackendUnavailable) as error:
        print(f"blueprint up: {error}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        pass
    print("Stopped: the server, the worker(s) and their runs; nothing is left running.")
    return 0
