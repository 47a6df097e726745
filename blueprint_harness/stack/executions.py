"""What executed a flow run, proved from the run itself: which process ran it, how many
times, and which source code it loaded.

The witness in each flow-run process (run_probe/) records its pid and the source files
it loads; the API records the run's states and its tasks' logs. Together they show, per
run, that it executed exactly once (one engine process, one Running state, run_count 1,
the load task's line once) and that it executed the project's flow file and the modules
beside it that it imports (same paths, same SHA-256), not a copy somewhere else.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path

from blueprint_harness.stack.run_probe import RunProcess, processes_by_run
from blueprint_harness.stack.runs import RunRecord
from blueprint_harness.stack.sandbox import Sandbox


def sha256_of(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


@dataclass(frozen=True)
class Execution:
    """The processes that executed one flow run, as they recorded themselves."""

    flow_run_id: str
    processes: tuple[RunProcess, ...]

    @property
    def engines(self) -> list[RunProcess]:
        return [process for process in self.processes if process.is_engine]

    def waited_for_cpu(self, start: float, end: float) -> float | None:
        """Seconds of [start, end] the single engine's main thread waited for a CPU (None
        unless exactly one engine recorded it)."""
        engines = self.engines
        return engines[0].waited_for_cpu(start, end) if len(engines) == 1 else None

    def describe(self) -> str:
        lines = [f"processes that executed flow run {self.flow_run_id}:"]
        for process in self.processes:
            lines.append(f"  {process.describe()}, cwd {process.cwd}")
            lines.extend(f"    loaded {s.path} (sha256 {s.sha256[:12]})" for s in process.loaded)
        return (
            "\n".join(lines)
            if self.processes
            else f"no process recorded flow run {self.flow_run_id}"
        )


def execution(sandbox: Sandbox, flow_run_id: str) -> Execution:
    return Execution(
        flow_run_id, tuple(processes_by_run(sandbox.run_probe_record).get(flow_run_id, []))
    )


def once_problems(run: RunRecord, ran: Execution) -> list[str]:
    """Why the run did not execute exactly once (none if it did): one engine process, one
    Running state, run_count 1. (That its rows landed once, the warehouse shows.)"""
    problems = []
    if len(ran.engines) != 1:
        problems.append(f"{len(ran.engines)} engine processes ran it (expected 1)")
    running = run.state_names.count("Running")
    if running != 1:
        problems.append(f"it entered Running {running} times (expected once)")
    if run.flow_run.run_count != 1:
        problems.append(f"its run_count is {run.flow_run.run_count} (expected 1)")
    return problems


def source_problems(project_dir: Path, ran: Execution, flow_file: str) -> list[str]:
    """Why the run did not execute the project's own `flow_file` (none if it did): the
    engine must have loaded that very file, byte for byte, from inside the project, and so
    each module beside it that it loaded (the flow's own imports, such as its warehouse)."""
    project = project_dir.resolve()
    flow_path = (project / flow_file).resolve()
    ours = {path.name: path for path in flow_path.parent.glob("*.py")}
    if not ran.engines:
        return [f"no engine process recorded flow run {ran.flow_run_id}"]
    problems = []
    for engine in ran.engines:
        if not any(source.path.name == flow_path.name for source in engine.loaded):
            problems.append(f"{engine.describe()} loaded no {flow_path.name}")
        for source in engine.loaded:
            expected_path = ours.get(source.path.name)
            if expected_path is None:
                continue
            expected_sha = sha256_of(expected_path)
            if source.path != expected_path:
                problems.append(
                    f"the run executed {source.path} (sha256 {source.sha256[:12]}), not the "
                    f"project's {expected_path}; its working directory was {source.cwd}"
                )
            elif source.sha256 != expected_sha:
                problems.append(
                    f"the run executed {source.path} as it was then (sha256 "
                    f"{source.sha256[:12]}), not as the project holds it ({expected_sha[:12]})"
                )
            if not source.cwd.resolve().is_relative_to(project):
                problems.append(f"the run's working directory {source.cwd} is outside {project}")
    return problems
