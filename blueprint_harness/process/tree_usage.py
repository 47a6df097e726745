"""A command's whole process tree measured as the kernel accounts it: wall time, and the
CPU (user + system) of every process of the tree once reaped.

getrusage(RUSAGE_CHILDREN) counts a process only once its parent has reaped it, and an
orphan only if it is reaped here: so the caller is made the subreaper of the tree, waits
for whatever the command left running to end, and reaps it before the count.
"""

from __future__ import annotations

import resource
import subprocess
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import psutil

from blueprint_harness.process import janitor
from blueprint_harness.process.waiting import poll_until

ORPHANS_END_SECONDS = 30.0
POLL_SECONDS = 0.1


@dataclass(frozen=True)
class TreeUsage:
    wall: float
    cpu: float
    pid: int
    returncode: int
    output: str

    def __str__(self) -> str:
        return f"{self.wall:.1f}s wall, {self.cpu:.1f}s CPU"


def own_cpu() -> float:
    """This process's CPU so far (user + system)."""
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def children_cpu() -> float:
    """The CPU of every descendant of this process reaped so far (user + system)."""
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def run_measured(args: Sequence[str], cwd: Path, env: Mapping[str, str] | None = None) -> TreeUsage:
    """Run `args` to its end (its output kept), then its orphans, and measure it all."""
    janitor.become_subreaper()
    before = {child.pid for child in psutil.Process().children()}
    cpu, began = children_cpu(), time.monotonic()
    done = subprocess.Popen(
        list(args),
        cwd=cwd,
        env=dict(env) if env is not None else None,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    output, _ = done.communicate()
    wall = time.monotonic() - began
    if not poll_until(lambda: not leftovers(before), ORPHANS_END_SECONDS, POLL_SECONDS):
        raise RuntimeError(f"{' '.join(args)} left processes running: {leftovers(before)}")
    janitor.reap({child.pid for child in psutil.Process().children()} - before)
    return TreeUsage(wall, children_cpu() - cpu, done.pid, done.returncode, output)


def leftovers(before: set[int]) -> list[psutil.Process]:
    """Children of this process that were not before, still running (orphans
    re-parented here, as subreaper)."""
    return janitor.running([c for c in psutil.Process().children() if c.pid not in before])
