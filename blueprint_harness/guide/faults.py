"""Faults injected into a stack: killed servers, workers and flow-run processes, and what a
run's story must still be afterwards.

The runs use the failing URL because that run stays Running for over 6 s (three 2 s
retries): a fault injected as soon as the API shows it Running is sure to land while it
is in flight.
"""

from __future__ import annotations

import signal
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime

import httpx
import psutil

from blueprint_harness.guide import commands as guide
from blueprint_harness.guide import expectations, guide_steps
from blueprint_harness.guide.steps import GuideSteps
from blueprint_harness.process import janitor
from blueprint_harness.process.managed import ManagedProcess
from blueprint_harness.stack.executions import execution, once_problems
from blueprint_harness.stack.models import FlowRun
from blueprint_harness.stack.runs import RunRecord
from blueprint_harness.stack.stack import AnyStack
from blueprint_harness.stack.states import follows_path
from blueprint_harness.stack.worker import PrefectWorker, WorkerFleet
from blueprint_harness.stack.zombies import EVALUATION_SECONDS, MISSED_AFTER_SECONDS

LONG_RUN = expectations.TRIGGERS_BY_KEY["failing-url"]
# From the kill to Crashed: the last heartbeat may be one interval old, then the missed-
# heartbeat window, an evaluation, and room for a loaded two-core machine.
ZOMBIE_BOUND_SECONDS = MISSED_AFTER_SECONDS + 30 + EVALUATION_SECONDS + 25
QUIET_MARGIN_SECONDS = 0.75  # of a 2 s retry delay: time to send the kill


def start_long_run(stack: AnyStack) -> guide.TriggeredRun:
    """Trigger the long (retrying) run and return once the API shows it Running."""
    run = guide.trigger(stack.cli, LONG_RUN)
    stack.monitor.wait_for(
        lambda: stack.api.flow_run(run.flow_run_id),
        lambda flow_run: flow_run.state_type == "RUNNING",
        timeout=stack.runs.timeout,
        expected=f"run {run.flow_run_id} to be Running",
        describe=str,
    )
    return run


def wait_between_retries(stack: AnyStack, run: guide.TriggeredRun) -> None:
    """Wait until the long run's failing task is waiting out a retry delay with over
    `QUIET_MARGIN_SECONDS` of it left, its states so far stored: a fault then lands while
    the run is in flight and no task event of it is on the way. A single-process server
    holds the events it has received but not yet written in memory (Prefect's in-memory
    messaging; the production shape's Redis keeps them), so a kill in the milliseconds
    after a task's state change can lose that state: a loss Prefect does not promise to
    avoid, unlike a run's survival, which is what this waits to test."""
    task = run.trigger.failing_task or expectations.SOURCE_TASK

    def quiet() -> bool:
        _, states = stack.runs.task_states(run.flow_run_id, task) or (None, [])
        last = states[-1] if states else None
        if last is None or last.name != "AwaitingRetry" or last.scheduled_time is None:
            return False
        return (last.scheduled_time - datetime.now(UTC)).total_seconds() > QUIET_MARGIN_SECONDS

    stack.monitor.wait_for(
        quiet,
        bool,
        timeout=stack.runs.timeout,
        expected=f"task {task} of run {run.flow_run_id} waiting out a retry delay, with "
        f"over {QUIET_MARGIN_SECONDS} s of it left",
        describe=lambda _: stack.runs.report(run.flow_run_id),
        interval=0.1,
    )


def whole_story(stack: AnyStack, run: guide.TriggeredRun) -> tuple[RunRecord, list[str]]:
    """The long run once settled, and what is wrong with its story after a fault: a state
    path that is not the guide's, a retry history with holes, or a second execution."""
    trigger = run.trigger
    record = stack.runs.wait_settled(run.flow_run_id, tasks=trigger.tasks)
    problems = once_problems(record, execution(stack.sandbox, run.flow_run_id))
    if record.flow_run.state_name != trigger.final_state:
        problems.append(f"it ended {record.flow_run.state_name}, not {trigger.final_state}")
    if not follows_path(record.state_names, trigger.path):
        problems.append(f"its states {record.state_names} do not follow {trigger.path}")
    failing = record.task(trigger.failing_task or expectations.SOURCE_TASK)
    if failing.state_names != list(expectations.retry_path()):
        problems.append(f"{failing.task_run.name} went {failing.state_names}")
    return record, problems


def kill(process: ManagedProcess) -> None:
    """SIGKILL a managed process and everything under it at the same instant, as a lost
    machine would lose them (no chance to clean up, nobody left to report), and reap it."""
    tree = [psutil.Process(process.pid), *process.children()]
    process.send_signal(signal.SIGKILL)
    for member in tree[1:]:
        member.kill()
    psutil.wait_procs(tree, timeout=30)
    if process.popen is not None:
        process.popen.wait(timeout=30)


def run_processes(flow_run_id: str) -> list[psutil.Process]:
    """The live processes executing `flow_run_id` (a worker gives them its id)."""
    return janitor.processes_where(lambda env: env.get("PREFECT__FLOW_RUN_ID") == flow_run_id)


def worker_running(fleet: WorkerFleet, flow_run_id: str) -> PrefectWorker:
    """The worker whose flow-run process executes `flow_run_id` (it carries the worker's
    process marker)."""
    for process in run_processes(flow_run_id):
        try:
            return fleet.by_process_name(process.environ()[janitor.MARKER])
        except (psutil.Error, KeyError, StopIteration):
            continue
    raise AssertionError(f"no worker of {fleet.names} runs flow run {flow_run_id}")


def wait_crashed(stack: AnyStack, flow_run_id: str) -> FlowRun:
    """Wait, within the zombie-detection bound, for a run nobody reports on to end."""
    began = time.monotonic()
    run = stack.runs.wait_terminal(flow_run_id, timeout=ZOMBIE_BOUND_SECONDS)
    stack.timings.record("lost worker: kill to terminal state", time.monotonic() - began)
    return run


@dataclass(frozen=True)
class Answers:
    """Answers to requests sent each on a fresh connection, never retried."""

    statuses: tuple[int | str, ...]

    @property
    def all_ok(self) -> bool:
        return all(status == 200 for status in self.statuses)

    def __str__(self) -> str:
        return ", ".join(map(str, self.statuses))


def fresh_requests(url: str, count: int) -> Answers:
    """`count` GETs of `url`, each on a connection of its own and without any retry: what
    a new client sees at this moment."""
    statuses: list[int | str] = []
    for _ in range(count):
        try:
            statuses.append(httpx.get(url, timeout=5.0).status_code)
        except httpx.TransportError as error:
            statuses.append(type(error).__name__)
    return Answers(tuple(statuses))


def wait_ready_answers(
    stack: AnyStack, wanted: Callable[[int | str], bool], expected: str
) -> int | str:
    """Poll `/api/ready` (no retry, fresh connection) until its answer satisfies `wanted`."""
    return stack.monitor.wait_for(
        lambda: fresh_requests(f"{stack.sandbox.api_url}/ready", 1).statuses[0],
        wanted,
        timeout=stack.runs.timeout,
        expected=expected,
        interval=0.2,
    )


def live_workers(steps: GuideSteps) -> WorkerFleet:
    """The stack's workers on its deployment, each started again if a test killed it."""
    guide_steps.deployment(steps).result()
    fleet = guide_steps.workers(steps).result()
    for worker in fleet.workers:
        if not worker.process.is_running():
            worker.process.start()
    return fleet
