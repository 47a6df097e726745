"""Where the CPU went: seconds spent by each role of this process's managed tree.

A benchmark that is slower than hoped must say why. Every managed process carries its
name in `janitor.MARKER` and its descendants inherit it, so each process in the tree is
put in one role (the API server, the services, a worker, a flow run, PostgreSQL, Redis)
and its CPU time summed. A process that exited was reaped by its parent, which then
holds its time as children's time: a worker's reaped children are its flow runs.
"""

from __future__ import annotations

import contextlib
import os
from collections import defaultdict

import psutil

from blueprint_harness.process.janitor import MARKER

FLOW_RUNS = "flow-run processes"
WORKERS = "workers"
HARNESS = "harness (this process)"
# A managed process's name starts with what it is (blueprint_harness/stack/server.py and worker.py,
# blueprint_harness/backends/); the longest prefix is tried first.
ROLES = (
    ("prefect-server-services", "services"),
    ("prefect-server", "API server"),
    ("prefect-worker", WORKERS),
    ("postgresql", "PostgreSQL"),
    ("redis", "Redis"),
)
# PostgreSQL and Redis overwrite their environment with their process titles: for them the
# program's name says it.
PROGRAMS = {"postgres": "PostgreSQL", "redis-server": "Redis"}


def managed_role(process_name: str) -> str | None:
    """The role a managed process's name (its marker) gives it, if any."""
    return next((role for prefix, role in ROLES if process_name.startswith(prefix)), None)


def role_of(environ: dict[str, str], name: str) -> str:
    """A process's role: a flow run, else what its managed process's marker names."""
    if environ.get("PREFECT__FLOW_RUN_ID"):
        return FLOW_RUNS
    return managed_role(environ.get(MARKER, "")) or PROGRAMS.get(name, "other")


def cpu_by_role() -> defaultdict[str, float]:
    """CPU seconds so far, by role, of this process and everything it started."""
    seconds: defaultdict[str, float] = defaultdict(float)
    me = psutil.Process()
    times = me.cpu_times()
    seconds[HARNESS] += times.user + times.system
    seconds["other"] += times.children_user + times.children_system
    for process in me.children(recursive=True):
        with contextlib.suppress(psutil.Error):
            role = role_of(process.environ(), process.name())
            times = process.cpu_times()
            seconds[role] += times.user + times.system
            reaped = FLOW_RUNS if role == WORKERS else role
            seconds[reaped] += times.children_user + times.children_system
    return seconds


class CpuWindow:
    """CPU seconds by role, and how busy the whole machine was, from creation to `read()`."""

    def __init__(self) -> None:
        self._before = cpu_by_role()
        psutil.cpu_percent(interval=None)  # starts the machine-wide measure

    def read(self) -> dict[str, object]:
        machine_busy = psutil.cpu_percent(interval=None)
        after = cpu_by_role()
        spent = {role: round(after[role] - self._before[role], 1) for role in after}
        return {
            "cpu_seconds_by_role": dict(sorted(spent.items(), key=lambda item: -item[1])),
            "machine_cpu_busy_percent": machine_busy,
            "cores": os.cpu_count(),
        }
