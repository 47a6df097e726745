"""Where every CPU-second of a run went, from the kernel's own accounting.

Sampling a tree's CPU misses what ends between two samples (each CLI command, each
flow-run process), so a benchmark that sampled could not say where a third of its CPU
went. Linux's process accounting (acct(2), the BSD format v3) writes one record for every
process as it exits: its pid, its parent's, its command name and its user and system CPU.
A session turns it on around itself (`this_process_accounted`, behind
--prefect-cpu-accounting; needs CAP_SYS_PACCT, as root has), and the harness names the
processes only it can tell apart (`label`: a server, a worker, each CLI command by name) in
the file $BLUEPRINT_CPU_LABELS names. `by_kind` then puts each record of the session's tree
under the kind of itself or its nearest named ancestor; the sum is what the kernel charged
the tree, so nothing is left unaccounted.
"""

from __future__ import annotations

import contextlib
import ctypes
import os
import struct
from collections import defaultdict
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from itertools import takewhile
from pathlib import Path

from blueprint_harness.process import cpu
from blueprint_harness.process.tree_usage import children_cpu, own_cpu

LABELS_VARIABLE = "BLUEPRINT_CPU_LABELS"
# struct acct_v3 (linux/acct.h): flag, version, tty, exitcode, uid, gid, pid, ppid, btime,
# etime (float), utime, stime, mem, io, rw, minflt, majflt, swaps (comp_t), comm[16].
RECORD = struct.Struct("<BBHIIIIIIf8H16s")
TICKS_PER_SECOND = 100  # AHZ
# What a process's command name at its exit begins with, where no label says more. A
# Chromium process that outlives its main thread is recorded under a thread's name.
CHROMIUM_THREADS = ("Cr", "Chrome_", "ThreadPool", "SignalInspector", "HangWatcher", "Perfetto")
PROGRAMS = {
    **cpu.PROGRAMS,
    "chromium": "Chromium",
    "chrome_crashpad": "Chromium",
    **dict.fromkeys(CHROMIUM_THREADS, "Chromium"),
    "node": "Playwright's driver",
}


@dataclass(frozen=True)
class Exited:
    """One process, as the kernel recorded it at its exit."""

    pid: int
    ppid: int
    command: str
    cpu_seconds: float


def _comp_t(value: int) -> int:
    """The kernel's 16-bit float: 13 bits of mantissa, 3 of base-8 exponent."""
    return (value & 0x1FFF) << (3 * (value >> 13))


def records(path: Path) -> list[Exited]:
    """Every record in an accounting file (format v3)."""
    data = path.read_bytes()
    found = []
    for offset in range(0, len(data) - RECORD.size + 1, RECORD.size):
        fields = RECORD.unpack_from(data, offset)
        if fields[1] != 3:
            raise ValueError(f"{path}: record {offset // RECORD.size} is not acct v3")
        pid, ppid, utime, stime, comm = fields[6], fields[7], fields[10], fields[11], fields[-1]
        seconds = (_comp_t(utime) + _comp_t(stime)) / TICKS_PER_SECOND
        found.append(Exited(pid, ppid, comm.rstrip(b"\0").decode(errors="replace"), seconds))
    return found


@contextlib.contextmanager
def kernel_accounting(path: Path) -> Iterator[Path]:
    """Process accounting into `path` for the time of the block (every process that exits
    meanwhile, machine-wide: `by_kind` keeps one tree)."""
    path.touch()
    libc = ctypes.CDLL(None, use_errno=True)
    if libc.acct(str(path).encode()) != 0:
        error = os.strerror(ctypes.get_errno())
        raise PermissionError(
            f"cannot turn on process accounting ({error}): it needs CAP_SYS_PACCT (run as root)"
        )
    try:
        yield path
    finally:
        libc.acct(None)


def label(pid: int, kind: str) -> None:
    """Name process `pid` for the accounting, when a benchmark asked for it (else nothing)."""
    labels = os.environ.get(LABELS_VARIABLE)
    if labels:
        with open(labels, "a") as out:
            out.write(f"{pid}\t{kind}\n")


def labels(path: Path) -> dict[int, str]:
    found = {}
    for line in path.read_text().splitlines() if path.exists() else []:
        pid, _, kind = line.partition("\t")
        found[int(pid)] = kind
    return found


def command_kind(args: tuple[str, ...] | list[str]) -> str:
    """A command's kind: its program and up to two words before any option (`prefect
    deployment run`, `prefect deploy`)."""
    words = [os.path.basename(args[0]), *takewhile(lambda a: not a.startswith("-"), args[1:])]
    return "CLI: " + " ".join(words[:3])


def by_kind(exited: list[Exited], roots: set[int], named: Mapping[int, str]) -> dict[str, float]:
    """CPU seconds by kind of the processes descending from `roots` (and of the roots).
    A process's kind: its label or what its command name says; else its nearest such
    ancestor's below the root (a worker's descendants are flow runs); else `<command>
    (under <root>)`."""
    parent = {record.pid: record.ppid for record in exited}
    command = {record.pid: record.command for record in exited}

    def own_kind(pid: int) -> str | None:
        name = command.get(pid, "")
        said = (kind for program, kind in PROGRAMS.items() if name.startswith(program))
        return named.get(pid) or next(said, None)

    seconds: defaultdict[str, float] = defaultdict(float)
    for record in exited:
        chain = _lineage(record.pid, parent, roots)
        if chain is None:
            continue  # another tree's
        below_root = chain[:-1] or chain  # a root's kind is its own, not its children's
        kinds = [kind for kind in map(own_kind, below_root) if kind]
        if not kinds:
            root = chain[-1]
            kind = f"{record.command} (under {named.get(root) or command.get(root, '?')})"
        elif kinds[0] == cpu.WORKERS and own_kind(record.pid) is None:
            kind = cpu.FLOW_RUNS
        else:
            kind = kinds[0]
        seconds[kind] += record.cpu_seconds
    return dict(sorted(seconds.items(), key=lambda item: -item[1]))


def _lineage(pid: int, parent: Mapping[int, int], roots: set[int]) -> list[int] | None:
    """`pid` and its ancestors up to the first of `roots` (None if none is one)."""
    chain = [pid]
    while chain[-1] not in roots:
        up = parent.get(chain[-1])
        if up is None or up in chain:
            return None
        chain.append(up)
    return chain


@dataclass(frozen=True)
class CpuAccount:
    """CPU seconds by kind, and what the kernel charged in all (to compare the two)."""

    kinds: dict[str, float]
    kernel_total: float

    def lines(self) -> list[str]:
        accounted = sum(self.kinds.values())
        rows = [f"{seconds:6.1f}s  {kind}" for kind, seconds in self.kinds.items() if seconds]
        gap = 100 * (self.kernel_total - accounted) / self.kernel_total if self.kernel_total else 0
        return [
            f"CPU by kind of process: {accounted:.1f}s accounted, the kernel's total "
            f"{self.kernel_total:.1f}s ({gap:+.1f}% not accounted)",
            *rows,
        ]


@contextlib.contextmanager
def this_process_accounted(folder: Path, name: str) -> Iterator[Callable[[], CpuAccount]]:
    """Account this process (as `name`) and every process under it from here on; yields
    what reads the account so far (call it once the processes have ended and been
    reaped). Labels are asked of the harness through the environment, for the time of
    the block."""
    labelled = folder / "labels.tsv"
    previous = os.environ.get(LABELS_VARIABLE)
    os.environ[LABELS_VARIABLE] = str(labelled)
    own_before, reaped_before = own_cpu(), children_cpu()

    def read(path: Path) -> CpuAccount:
        own, reaped = own_cpu(), children_cpu()
        named = {**labels(labelled), os.getpid(): name}
        kinds = by_kind(records(path), {os.getpid()}, named)
        kinds[name] = kinds.get(name, 0.0) + own - own_before
        ordered = dict(sorted(kinds.items(), key=lambda item: -item[1]))
        return CpuAccount(ordered, own - own_before + reaped - reaped_before)

    try:
        with kernel_accounting(folder / "acct") as path:
            yield lambda: read(path)
    finally:
        if previous is None:
            os.environ.pop(LABELS_VARIABLE, None)
        else:
            os.environ[LABELS_VARIABLE] = previous
