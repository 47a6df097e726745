"""Load, side by side on each backend: N runs of the deployment triggered at once.

On each backend in turn (a stack of its own, its workers the guide's command unchanged),
checks that every run reaches a terminal state, that none is lost (N distinct runs, all
found) or duplicated (per run: one engine process seen by the witness in it, run_count
1, one Running state, the load task's line for its own table once), and reports
throughput, the p50/p95 trigger-to-terminal time, the HTTP 503s the server answered (its
access logs), the retries the harness's client made, and where the time went: CPU seconds
by role (flow-run processes, API, services, workers, PostgreSQL, Redis) and how busy the
machine's cores were; a throughput capped by the cores shows there. How many runs execute
at once is set on the pool (`prefect work-pool set-concurrency-limit`): two cores hold a
few flow processes, not hundreds.

    .venv/bin/python benchmarks/load.py --runs 200 --pool-limit 4
    .venv/bin/python benchmarks/load.py --backends sqlite --runs 100
"""

from __future__ import annotations

import argparse
import json
import re
import statistics
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from blueprint_harness.backends import BACKENDS, check_installed
from blueprint_harness.config import default_config
from blueprint_harness.guide import expectations
from blueprint_harness.guide.bring_up import phase_two
from blueprint_harness.process.cpu import CpuWindow
from blueprint_harness.process.diagnostics import lines_matching
from blueprint_harness.process.launcher import PopenLauncher
from blueprint_harness.process.session import owned_session
from blueprint_harness.stack.executions import execution, once_problems
from blueprint_harness.stack.models import FlowRun
from blueprint_harness.stack.stack import AnyStack, OwnStack
from blueprint_harness.stack.standalone import standalone_stack

ACCESS_503 = re.compile(r'" 503\b')


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(share * (len(ordered) - 1)))]


def table(i: int) -> str:
    return f"warehouse.load.run_{i:03d}"


def trigger_all(stack: AnyStack, deployment_id: str, runs: int) -> dict[str, int]:
    """Create every run at once through the API (the CLI would spend ~2 s of CPU each),
    four requests at a time: more only queue on SQLite's single writer."""
    with ThreadPoolExecutor(4) as pool:
        created = pool.map(
            lambda i: (stack.api.create_flow_run(deployment_id, {"target_table": table(i)}), i),
            range(runs),
        )
        return {run.id: i for run, i in created}


def wait_all_terminal(stack: AnyStack, ids: set[str], timeout: float) -> list[FlowRun]:
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


def verify(stack: AnyStack, ids: dict[str, int], finished: list[FlowRun]) -> dict[str, object]:
    """Per run: completed, and executed exactly once (see blueprint_harness/stack/executions.py)."""
    problems = []
    for run in finished:
        record = stack.runs.record(run.id)
        found = once_problems(record, execution(stack.sandbox, run.id))
        assert stack.sandbox.warehouse is not None
        rows = len(stack.sandbox.warehouse.rows(table(ids[run.id]), run.id))
        if rows != expectations.DEFAULT_PARAMETERS["batch_size"]:
            found.append(f"its batch holds {rows} rows")
        if run.state_name != "Completed" or found:
            problems.append(f"{run}: {'; '.join(found) or run.state_name}")
    return {"problems": problems, "completed": sum(r.state_name == "Completed" for r in finished)}


def server_503s(stack: OwnStack) -> int:
    """HTTP 503 answers in the server's access logs (any client: workers, flow runs, us)."""
    logs = [process.log_path for process in stack.server.processes]
    return sum(len(lines_matching(path, ACCESS_503)) for path in logs)


def measure(backend: str, runs: int, pool_limit: int, timeout: float) -> dict[str, object]:
    config = replace(default_config(), backend=backend, project_dir=ROOT)
    scratch = Path(tempfile.mkdtemp(prefix=f"load-{backend}-"))
    host = config.process_host(PopenLauncher())
    with standalone_stack(host, scratch, config) as stack, phase_two(stack) as brought_up:
        stack.cli.prefect(
            "work-pool", "set-concurrency-limit", expectations.WORK_POOL_NAME, str(pool_limit)
        )
        assert brought_up.deployed is not None
        deployment = brought_up.deployed.deployment
        cpu = CpuWindow()
        began = time.monotonic()
        ids = trigger_all(stack, deployment.id, runs)
        finished = wait_all_terminal(stack, set(ids), timeout)
        elapsed = time.monotonic() - began
        where_cpu_went = cpu.read()
        report = verify(stack, ids, finished)
        latencies = [
            (run.end_time - run.created).total_seconds()
            for run in finished
            if run.end_time is not None and run.created is not None
        ]
        refused = server_503s(stack)
        retried = dict(stack.api.retried)
    return {
        "backend": backend,
        "shape": BACKENDS[backend].describe(),
        "runs": runs,
        "distinct_runs_created": len(ids),
        "terminal": len(finished),
        "completed": report["completed"],
        "problems": report["problems"],
        "pool_concurrency_limit": pool_limit,
        "seconds_to_last_terminal": round(elapsed, 1),
        "throughput_runs_per_minute": round(60 * len(finished) / elapsed, 1),
        "trigger_to_terminal_p50_seconds": round(statistics.median(latencies), 1),
        "trigger_to_terminal_p95_seconds": round(percentile(latencies, 0.95), 1),
        "http_503_answers": refused,
        "harness_client_retries": retried,
        "session_logs": str(stack.sandbox.logs),
        **where_cpu_went,
        "cpu_seconds_per_run": round(sum(where_cpu_went["cpu_seconds_by_role"].values()) / runs, 2),
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=200)
    parser.add_argument("--pool-limit", type=int, default=4)
    parser.add_argument("--timeout", type=float, default=3600)
    parser.add_argument("--backends", default=",".join(BACKENDS))
    args = parser.parse_args()
    results = []
    with owned_session():
        for backend in args.backends.split(","):
            check_installed(backend)
            results.append(measure(backend, args.runs, args.pool_limit, args.timeout))
            print(json.dumps(results[-1], indent=2), flush=True)
    print(
        f"{'backend':12} {'runs/min':>9} {'p50 s':>7} {'p95 s':>7} {'503s':>6} {'ok':>9} "
        f"{'CPU busy':>9} {'CPU s/run':>9}  biggest CPU users"
    )
    for r in results:
        ok = f"{r['completed']}/{r['runs']}" + (" !" if r["problems"] else "")
        users = ", ".join(f"{role} {s}s" for role, s in list(r["cpu_seconds_by_role"].items())[:3])
        print(
            f"{r['backend']:12} {r['throughput_runs_per_minute']:>9} "
            f"{r['trigger_to_terminal_p50_seconds']:>7} {r['trigger_to_terminal_p95_seconds']:>7} "
            f"{r['http_503_answers']:>6} {ok:>9} {r['machine_cpu_busy_percent']:>8}% "
            f"{r['cpu_seconds_per_run']:>9}  {users}"
        )
    return 0 if all(not r["problems"] and r["completed"] == r["runs"] for r in results) else 1


if __name__ == "__main__":
    sys.exit(main())
