"""The guide's Troubleshooting table, reproduced: each symptom first, then the guide's fix.

The symptoms are observed in order on one stack of their own, on a server with a low
late-run threshold: Terminal A before Terminal B started, a deploy before the pool
exists, a run before any worker.
"""

from __future__ import annotations

import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

from blueprint_harness.guide import commands as guide
from blueprint_harness.guide import expectations
from blueprint_harness.stack.api import ApiError
from blueprint_harness.stack.cli import CliResult
from blueprint_harness.stack.models import FlowRun
from blueprint_harness.stack.runs import RunRecord
from blueprint_harness.stack.sandbox import Sandbox
from blueprint_harness.stack.stack import AnyStack, running_stack_workers, sandbox_cli

# A run nobody picks up is marked Late after 3 s (default 15 s), checked every second.
LATE_RUN_SETTINGS = {
    "PREFECT_SERVER_SERVICES_LATE_RUNS_AFTER_SECONDS": "3",
    "PREFECT_SERVER_SERVICES_LATE_RUNS_LOOP_SECONDS": "1",
}


@dataclass(frozen=True)
class ServerDown:
    """Terminal A's commands while no server runs."""

    cli: CliResult  # `prefect work-pool ls`
    script: CliResult  # `python flows/data_pipeline.py`


@dataclass(frozen=True)
class MissingPool:
    pool_found_before: bool
    deploy_without_pool: CliResult
    pool_created: CliResult
    deploy_with_pool: CliResult


@dataclass(frozen=True)
class LateRun:
    flow_run_id: str
    late: FlowRun  # the run as seen while no worker was polling
    finished: RunRecord  # the same run once a worker had started


@dataclass(frozen=True)
class MissingPackages:
    outside_venv: CliResult  # an interpreter without the blueprint's packages
    inside_venv: CliResult  # the venv's interpreter, as after `source .venv/bin/activate`


def observe_server_down(sandbox: Sandbox) -> ServerDown:
    cli = sandbox_cli(sandbox)
    return ServerDown(
        cli=guide.list_work_pools(cli, expect=None),
        script=guide.run_flow_script(cli, expect=None),
    )


def pool_exists(stack: AnyStack, name: str) -> bool:
    try:
        stack.api.work_pool(name)
    except ApiError as error:
        if error.status_code == 404:
            return False
        raise
    return True


def reproduce_missing_pool(stack: AnyStack) -> MissingPool:
    found = pool_exists(stack, expectations.WORK_POOL_NAME)
    failed = guide.deploy(stack.cli, expect=None)
    created = guide.create_work_pool(stack.cli)
    return MissingPool(found, failed, created, guide.deploy(stack.cli))


def reproduce_late_run(stack: AnyStack) -> LateRun:
    run = guide.trigger(stack.cli, expectations.TRIGGERS_BY_KEY["default"])
    late = stack.monitor.wait_for(
        lambda: stack.api.flow_run(run.flow_run_id),
        lambda flow_run: flow_run.state_name == expectations.LATE_STATE,
        timeout=stack.runs.timeout,
        expected=f"run {run.flow_run_id} to go {expectations.LATE_STATE} with no worker",
        describe=str,
    )
    with running_stack_workers(stack, expectations.WORK_POOL_NAME):
        finished = stack.runs.wait_settled(run.flow_run_id, tasks=expectations.TASKS)
    return LateRun(run.flow_run_id, late, finished)


def reproduce_missing_packages(stack: AnyStack, scratch: Path) -> MissingPackages:
    """The flow run by a Python that lacks prefect: a fresh venv without packages."""
    bare = scratch / "venv-without-packages"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(bare)], check=True)
    outside = stack.cli.run((str(bare / "bin" / "python"), expectations.FLOW_SCRIPT), expect=None)
    return MissingPackages(outside, guide.run_flow_script(stack.cli))
