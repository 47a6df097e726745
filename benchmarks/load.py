"""Load: N runs of the deployment triggered at once through one process worker.

Checks that every run reaches a terminal state, that none is lost (N distinct runs, all
found) or duplicated (each ran once: run_count 1, one Running state, its own table
loaded exactly once), and reports throughput and the p50/p95 trigger-to-terminal time.
The worker is the guide's command unchanged; how many runs it executes at once is set
on the pool (`prefect work-pool set-concurrency-limit`), since 100 flow processes at once
would not fit two cores.

    .venv/bin/python benchmarks/load.py --runs 100 --pool-limit 4
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
import types
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import py
from xprocess import XProcess

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from fixtures.backends.sqlite import migrated_sqlite_template
from fixtures.config import default_config
from fixtures.guide import commands as guide
from fixtures.guide import expectations
from fixtures.process import janitor
from fixtures.stack.environment import SessionEnvironment, scrubbed_environ, venv_bin
from fixtures.stack.models import FlowRun
from fixtures.stack.running import Stack, running_stack, running_stack_workers


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(share * (len(ordered) - 1)))]


def table(i: int) -> str:
    return f"warehouse.load.run_{i:03d}"


def trigger_all(stack: Stack, deployment_id: str, runs: int) -> dict[str, int]:
    """Create every run at once through the API (the CLI would spend ~2 s of CPU each),
    four requests at a time: more only queue on SQLite's single writer."""
    with ThreadPoolExecutor(4) as pool:
        created = pool.map(
            lambda i: (stack.api.create_flow_run(deployment_id, {"target_table": table(i)}), i),
            range(runs),
        )
        return {run.id: i for run, i in created}


def wait_all_terminal(stack: Stack, ids: set[str], timeout: float) -> list[FlowRun]:
    def terminal() -> list[FlowRun]:
        found = stack.api.flow_runs(flow_runs={"id": {"any_": sorted(ids)}})
        return [run for run in found if run.is_terminal]

    return stack.monitor.wait_for(
        terminal,
        lambda done: len(done) == len(ids),
        timeout=timeout,
        expected=f"all {len(ids)} runs to reach a terminal state",
        describe=lambda done: f"{len(done)} terminal",
        interval=2.0,
    )


def verify(stack: Stack, ids: dict[str, int], finished: list[FlowRun]) -> dict[str, object]:
    problems = []
    for run in finished:
        running = [s for s in stack.api.flow_run_states(run.id) if s.name == "Running"]
        loaded = expectations.records_loaded_pattern(500, table(ids[run.id]))
        loads = [m for m in (e.message for e in stack.api.logs(run.id)) if loaded.search(m)]
        if run.state_name != "Completed" or run.run_count != 1 or len(running) != 1:
            problems.append(f"{run}: run_count={run.run_count}, Running x{len(running)}")
        elif len(loads) != 2:  # the load task's line and the flow's summary line
            problems.append(f"{run}: {len(loads)} load lines for {table(ids[run.id])}")
    return {"problems": problems, "completed": sum(r.state_name == "Completed" for r in finished)}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=100)
    parser.add_argument("--pool-limit", type=int, default=4)
    parser.add_argument("--timeout", type=float, default=1800)
    args = parser.parse_args()

    janitor.become_subreaper()
    config = default_config()
    scratch = Path(tempfile.mkdtemp(prefix="load-"))
    template = migrated_sqlite_template(
        ROOT / ".pytest_cache" / "d" / "prefect-db-templates",
        venv_bin() / "prefect",
        scrubbed_environ(),
        config.startup_timeout,
    )
    session = SessionEnvironment.create(scratch / "session", ROOT, sqlite_template=template)
    xprocess = XProcess(types.SimpleNamespace(), py.path.local(scratch / "xprocess"))
    with running_stack(xprocess, session, config) as stack:
        guide.create_work_pool(stack.cli)
        stack.cli.prefect(
            "work-pool", "set-concurrency-limit", expectations.WORK_POOL_NAME, str(args.pool_limit)
        )
        guide.deploy(stack.cli)
        deployment = stack.api.deployment(expectations.FLOW_NAME, expectations.DEPLOYMENT_NAME)
        with running_stack_workers(xprocess, stack, expectations.WORK_POOL_NAME, config):
            began = time.monotonic()
            ids = trigger_all(stack, deployment.id, args.runs)
            finished = wait_all_terminal(stack, set(ids), args.timeout)
            elapsed = time.monotonic() - began
            report = verify(stack, ids, finished)
            latencies = [
                (run.end_time - run.created).total_seconds()
                for run in finished
                if run.end_time is not None and run.created is not None
            ]
    summary = {
        "runs": args.runs,
        "distinct_runs_created": len(ids),
        "terminal": len(finished),
        "completed": report["completed"],
        "problems": report["problems"],
        "pool_concurrency_limit": args.pool_limit,
        "seconds_to_last_terminal": round(elapsed, 1),
        "throughput_runs_per_minute": round(60 * len(finished) / elapsed, 1),
        "trigger_to_terminal_p50_seconds": round(statistics.median(latencies), 1),
        "trigger_to_terminal_p95_seconds": round(percentile(latencies, 0.95), 1),
        "session_logs": str(session.logs),
    }
    print(json.dumps(summary, indent=2))
    return 0 if not report["problems"] and report["completed"] == args.runs else 1


if __name__ == "__main__":
    sys.exit(main())
