"""The guide, done literally: its commands in order, default settings, one run at a time.

What a person following the guide in three terminals does, minus the reading: a fresh
server (fresh database, no tuning), Phase 1's commands, the pool, a worker with default
polling, the deploy, then each Phase 3 trigger followed by waiting for that run to end
before the next. The yardstick the harness's own wall time is compared with.

    .venv/bin/python benchmarks/by_the_guide.py        # prints its wall time as JSON
"""

from __future__ import annotations

import json
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from blueprint_harness.guide import expectations as guide
from blueprint_harness.process.waiting import wait_for
from blueprint_harness.stack.models import FlowRun
from blueprint_harness.stack.sandbox import free_port, scrubbed_environ, venv_bin

TERMINAL_WAIT_SECONDS = 300
STOP_SECONDS = 30


def main() -> int:
    home = Path(tempfile.mkdtemp(prefix="by-the-guide-"))
    port = free_port()
    api = f"http://127.0.0.1:{port}/api"
    # Default settings: only what isolation needs (own home and port), nothing tuned.
    env = {**scrubbed_environ(), "PREFECT_HOME": str(home), "PREFECT_API_URL": api}
    prefect = str(venv_bin() / "prefect")
    background: list[subprocess.Popen[bytes]] = []

    def run(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(args, cwd=ROOT, env=env, capture_output=True, text=True, check=False)

    def start(*args: str) -> None:
        log = (home / f"{args[1]}.log").open("wb")
        background.append(subprocess.Popen(args, cwd=ROOT, env=env, stdout=log, stderr=log))

    def wait_until(condition: str, check: Callable[[], bool]) -> None:
        wait_for(check, bool, timeout=TERMINAL_WAIT_SECONDS, expected=condition)

    def server_ready() -> bool:
        try:
            return httpx.get(f"{api}/health", timeout=2).status_code == 200
        except httpx.TransportError:
            return False

    began = time.monotonic()
    try:
        run(prefect, "version")  # 1.3
        start(prefect, "server", "start", "--port", str(port))  # 1.4, Terminal B
        wait_until("server up", server_ready)
        run(prefect, "config", "set", f"PREFECT_API_URL={api}")  # 1.5
        run(prefect, "config", "view")  # 1.6
        run(str(venv_bin() / "python"), guide.FLOW_SCRIPT)  # 1.7
        run(prefect, "work-pool", "create", guide.WORK_POOL_NAME, "--type", guide.WORK_POOL_TYPE)
        run(prefect, "work-pool", "ls")  # 2.2
        start(prefect, "worker", "start", "--pool", guide.WORK_POOL_NAME)  # 2.3, Terminal C
        run(prefect, "deploy", "--name", guide.DEPLOYMENT_NAME, "--no-prompt")  # 2.4
        run(prefect, "deployment", "ls")  # 2.5
        for trigger in guide.TRIGGERS:  # 3.1, 3.3, 3.4, 3.5: each, then wait for its end
            out = run(prefect, "deployment", "run", guide.DEPLOYMENT_FULL_NAME, *trigger.cli_args)
            run_id = out.stdout.split("UUID:")[1].split()[0]
            wait_until(
                f"run {run_id} ends",
                lambda run_id=run_id: (
                    FlowRun.from_api(
                        httpx.get(f"{api}/flow_runs/{run_id}", timeout=10).json()
                    ).is_terminal
                ),
            )
        run(prefect, "flow-run", "ls")  # 3.2
        wall = time.monotonic() - began
    finally:
        for process in reversed(background):  # Ctrl-C in Terminals C and B
            process.send_signal(signal.SIGINT)
            try:
                process.wait(STOP_SECONDS)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
        shutil.rmtree(home, ignore_errors=True)
    print(json.dumps({"wall_seconds": round(wall, 3)}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
