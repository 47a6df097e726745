"""Following flow runs through the API until their whole story is recorded.

The server records task runs and their states from events, seconds after they happen,
and logs arrive in batches: so a run is read once it has *settled* (flow run terminal,
the expected task runs terminal, the flow's final log line stored), never read once.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime

from blueprint_harness.process.diagnostics import SessionMonitor
from blueprint_harness.stack.api import PrefectApi
from blueprint_harness.stack.models import FlowRun, LogEntry, State, TaskRun
from blueprint_harness.stack.states import format_history, retry_delays
from blueprint_harness.stack.timings import Timings

FINAL_LOG_PREFIX = "Finished in state"
HEARTBEAT_EVENT = "prefect.flow-run.heartbeat"


@dataclass(frozen=True)
class TaskRunRecord:
    """A task run and its state history."""

    task_run: TaskRun
    states: tuple[State, ...]

    @property
    def state_names(self) -> list[str]:
        return [s.name for s in self.states]


@dataclass(frozen=True)
class RunRecord:
    """The API's full account of a finished flow run."""

    flow_run: FlowRun
    states: tuple[State, ...]
    task_runs: tuple[TaskRunRecord, ...]
    logs: tuple[LogEntry, ...]

    @property
    def state_names(self) -> list[str]:
        return [s.name for s in self.states]

    def tasks_named(self, task_name: str) -> list[TaskRunRecord]:
        return [t for t in self.task_runs if task_name in t.task_run.task_names]

    def task(self, task_name: str) -> TaskRunRecord:
        """The single run of `task_name` (fails clearly if there is not exactly one)."""
        found = self.tasks_named(task_name)
        assert len(found) == 1, (
            f"expected one run of task {task_name!r}, found {len(found)}:\n{self.describe()}"
        )
        return found[0]

    @property
    def log_messages(self) -> list[str]:
        return [entry.message for entry in self.logs]

    def task_log_messages(self, task_name: str) -> list[str]:
        """What the runs of `task_name` themselves logged (not what the flow said about
        them); none if the task never ran."""
        task_ids = {task.task_run.id for task in self.tasks_named(task_name)}
        return [entry.message for entry in self.logs if entry.task_run_id in task_ids]

    def has_settled(self, tasks: Sequence[str]) -> bool:
        """Whether this is a settled run's final account: the flow run terminal, `tasks`
        recorded in the terminal state they report, and the flow's final log line stored
        (after which the run writes nothing more to read)."""
        recorded = {name: t for t in self.task_runs for name in t.task_run.task_names}
        tasks_done = all(
            name in recorded
            and recorded[name].task_run.is_terminal
            and recorded[name].states
            and recorded[name].states[-1].type == recorded[name].task_run.state_type
            for name in tasks
        )
        final_log = any(
            e.task_run_id is None and e.message.startswith(FINAL_LOG_PREFIX) for e in self.logs
        )
        return self.flow_run.is_terminal and tasks_done and final_log

    def describe(self) -> str:
        """State history, task runs with their states, and the stored log lines."""
        run = self.flow_run
        parts = [f"{run}\nFlow run states:\n{format_history(self.states)}"]
        for record in self.task_runs:
            task = record.task_run
            parts.append(
                f"Task run {task.name} (run_count={task.run_count}, "
                f"retries={task.retries}, retry_delay={task.retry_delay}):\n"
                f"{format_history(record.states)}"
            )
        if not self.task_runs:
            parts.append("Task runs: none recorded")
        logs = "\n".join(f"  {e.timestamp:%H:%M:%S.%f} {e.message[:300]}" for e in self.logs)
        parts.append(f"Stored logs ({len(self.logs)}):\n{logs or '  (none)'}")
        return "\n".join(parts)


@dataclass(frozen=True)
class RunStory:
    """A tracked run, as reports tell it: what made it, when, and everything it did."""

    label: str
    command: str
    triggered_at: datetime
    record: RunRecord
    ui_url: str


class RunObserver:
    """Waits on flow runs through the API and remembers which ones each test touched."""

    def __init__(
        self, api: PrefectApi, monitor: SessionMonitor, timeout: float, timings: Timings
    ) -> None:
        self.api = api
        self.monitor = monitor
        self.timeout = timeout
        self.timings = timings
        self.touched: list[str] = []
        self._tracked: dict[str, tuple[str, datetime]] = {}
        self._commands: dict[str, str] = {}
        # A settled run's record is final: the many tests that read one run share it.
        self._settled: dict[str, RunRecord] = {}

    def track(
        self, flow_run_id: str, label: str, triggered_at: datetime, command: str = ""
    ) -> None:
        """Time this run from `triggered_at` to its end, and its retry delays once it has
        settled, under `label`; `command` is what created it (for reports)."""
        self._tracked[flow_run_id] = (label, triggered_at)
        self._commands[flow_run_id] = command

    def label_of(self, flow_run_id: str) -> str | None:
        tracked = self._tracked.get(flow_run_id)
        return tracked[0] if tracked else None

    def stories(self) -> list[RunStory]:
        """Every tracked run's whole story as the API holds it now, for reports."""
        ui = self.api.api_url.removesuffix("/api")
        return [
            RunStory(
                label,
                self._commands.get(flow_run_id, ""),
                triggered_at,
                self.record(flow_run_id),
                f"{ui}/runs/flow-run/{flow_run_id}",
            )
            for flow_run_id, (label, triggered_at) in self._tracked.items()
        ]

    def touch(self, flow_run_id: str) -> None:
        """Note a run the current test depends on (its history goes into failure reports)."""
        if flow_run_id not in self.touched:
            self.touched.append(flow_run_id)

    def record(self, flow_run_id: str) -> RunRecord:
        """Everything the API holds about a run right now."""
        task_runs = tuple(
            TaskRunRecord(task, tuple(self.api.task_run_states(task.id)))
            for task in self.api.task_runs(flow_run_id)
        )
        return RunRecord(
            flow_run=self.api.flow_run(flow_run_id),
            states=tuple(self.api.flow_run_states(flow_run_id)),
            task_runs=task_runs,
            logs=tuple(self.api.logs(flow_run_id)),
        )

    def _wait_run(
        self,
        flow_run_id: str,
        until: Callable[[FlowRun], bool],
        expected: str,
        timeout: float | None = None,
    ) -> FlowRun:
        """Poll the flow run until `until` holds; on timeout, its state history."""
        self.touch(flow_run_id)
        return self.monitor.wait_for(
            lambda: self.api.flow_run(flow_run_id),
            until,
            timeout=timeout or self.timeout,
            expected=f"flow run {flow_run_id} to {expected}",
            describe=lambda run: f"{run}; history:\n{self._history(run.id)}",
            progress=self._progress,
        )

    def wait_terminal(self, flow_run_id: str, timeout: float | None = None) -> FlowRun:
        """Wait until the flow run reaches a terminal state (Completed, Failed, ...)."""
        run = self._wait_run(
            flow_run_id, lambda run: run.is_terminal, "reach a terminal state", timeout
        )
        # Recording again on a later wait writes the same figure: both ends come from the API.
        if flow_run_id in self._tracked and run.end_time is not None:
            label, triggered_at = self._tracked[flow_run_id]
            self.timings.record_run(label, (run.end_time - triggered_at).total_seconds())
        return run

    def wait_terminal_again(self, flow_run_id: str, after: FlowRun) -> FlowRun:
        """Wait until a run that had ended (as `after`) has run again and ended again."""
        self._settled.pop(flow_run_id, None)  # what was recorded of it is out of date
        return self._wait_run(
            flow_run_id,
            lambda run: run.is_terminal and run.run_count > after.run_count,
            f"run again (run_count above {after.run_count}) and reach a terminal state",
        )

    def wait_all_terminal(self, flow_run_ids: Iterable[str]) -> list[FlowRun]:
        """Wait until each of the flow runs has ended."""
        return [self.wait_terminal(flow_run_id) for flow_run_id in flow_run_ids]

    def wait_under_way(self, flow_run_id: str) -> FlowRun:
        """Wait until the flow run has begun (Running) or already ended."""
        return self._wait_run(
            flow_run_id,
            lambda run: run.state_type == "RUNNING" or run.is_terminal,
            "begin running (or end)",
        )

    def _progress(self, run: FlowRun) -> str:
        label = self.label_of(run.id)
        return f"waiting for flow run {run.name}{f' ({label})' if label else ''}: {run.state_name}"

    def wait_settled(
        self, flow_run_id: str, tasks: Sequence[str], timeout: float | None = None
    ) -> RunRecord:
        """Wait until the run is terminal and `tasks` and its logs are fully recorded."""
        kept = self._settled.get(flow_run_id)
        if kept is not None and kept.has_settled(tasks):
            self.touch(flow_run_id)
            return kept
        self.wait_terminal(flow_run_id, timeout)
        record = self.monitor.wait_for(
            lambda: self.record(flow_run_id),
            lambda record: record.has_settled(tasks),
            timeout=timeout or self.timeout,
            expected=(
                f"flow run {flow_run_id} to settle: task runs {list(tasks)} recorded in a "
                f"terminal state and the flow's '{FINAL_LOG_PREFIX} ...' log line stored"
            ),
            describe=RunRecord.describe,
            interval=1.0,
        )
        if flow_run_id in self._tracked:
            label, _ = self._tracked[flow_run_id]
            for task in record.task_runs:
                self.timings.record_retry_delays(label, retry_delays(task.states))
        self._settled[flow_run_id] = record
        return record

    def wait_for_message(self, flow_run_id: str, text: str) -> list[str]:
        """Wait until the run's latest state message or its stored logs mention `text`."""
        self.touch(flow_run_id)

        def said() -> list[str]:
            states = self.api.flow_run_states(flow_run_id)
            lines = [states[-1].message or ""] if states else []
            return lines + [entry.message for entry in self.api.logs(flow_run_id)]

        return self.monitor.wait_for(
            said,
            lambda lines: any(text in line for line in lines),
            timeout=self.timeout,
            expected=f"flow run {flow_run_id}'s state message or logs to mention {text!r}",
            describe=lambda lines: f"{len(lines)} lines, the last ones: {lines[-3:]}",
            interval=1.0,
        )

    def auto_scheduled(self, deployment_id: str) -> list[FlowRun]:
        """The deployment's future runs that the scheduler created."""
        runs = self.api.flow_runs(
            deployments={"id": {"any_": [deployment_id]}},
            flow_runs={"state": {"type": {"any_": ["SCHEDULED"]}}},
        )
        return [run for run in runs if run.auto_scheduled]

    def scheduled_during(self, deployment_id: str, seconds: float) -> list[FlowRun]:
        """Every auto-scheduled run of the deployment seen while watching for `seconds`
        (an absence is only shown by looking for long enough)."""
        seen: dict[str, FlowRun] = {}
        for runs in self.monitor.observe(lambda: self.auto_scheduled(deployment_id), seconds):
            seen.update((run.id, run) for run in runs)
        return list(seen.values())

    def task_states(self, flow_run_id: str, task_name: str) -> tuple[TaskRun, list[State]] | None:
        """The run's task `task_name` and its stored states so far (None before it starts)."""
        for task in self.api.task_runs(flow_run_id):
            if task_name in task.task_names:
                return task, self.api.task_run_states(task.id)
        return None

    def wait_for_task_state(self, flow_run_id: str, task_name: str, state_name: str) -> State:
        """Wait until the run's task `task_name` has entered `state_name`; that state. A
        task that ends (and the run with it) without entering it fails the wait at once."""
        self.touch(flow_run_id)

        def entered() -> tuple[State | None, bool]:
            seen = self.task_states(flow_run_id, task_name)
            if seen is None:
                return None, False
            task, states = seen
            found = next((s for s in states if s.name == state_name), None)
            return found, task.is_terminal and self.api.flow_run(flow_run_id).is_terminal

        found, _ = self.monitor.wait_for(
            entered,
            lambda seen: seen[0] is not None or seen[1],
            timeout=self.timeout,
            expected=f"task {task_name} of flow run {flow_run_id} to enter {state_name}",
            describe=lambda _: self._history(flow_run_id),
            interval=0.5,
        )
        assert found is not None, (
            f"task {task_name} of flow run {flow_run_id} ended without entering {state_name}:\n"
            f"{self._history(flow_run_id)}"
        )
        return found

    def wait_for_heartbeat(self, flow_run_id: str) -> None:
        """Wait until the server has stored a heartbeat of the run (zombie detection only
        watches runs whose first heartbeat arrived)."""
        self.touch(flow_run_id)
        self.monitor.wait_for(
            lambda: self.api.events(f"prefect.flow-run.{flow_run_id}", HEARTBEAT_EVENT),
            bool,
            timeout=self.timeout,
            expected=f"a {HEARTBEAT_EVENT} event of flow run {flow_run_id}",
            describe=lambda events: f"{len(events)} heartbeat events",
            interval=1.0,
        )

    def wait_scheduled(self, deployment_id: str, at_least: int) -> list[FlowRun]:
        """Wait for the scheduler to create `at_least` future runs of a deployment."""
        return self.monitor.wait_for(
            lambda: self.auto_scheduled(deployment_id),
            lambda runs: len(runs) >= at_least,
            timeout=self.timeout,
            expected=f"the scheduler to create {at_least} runs of deployment {deployment_id}",
            describe=lambda runs: f"{len(runs)} auto-scheduled runs: {[str(r) for r in runs]}",
            interval=1.0,
        )

    def _history(self, flow_run_id: str) -> str:
        return format_history(self.api.flow_run_states(flow_run_id))

    def report(self, flow_run_id: str) -> str:
        """A run's full story for a failure report, or why it cannot be read."""
        try:
            return self.record(flow_run_id).describe()
        except Exception as error:  # the report must not hide the original failure
            return f"(could not read flow run {flow_run_id} from the API: {error})"
