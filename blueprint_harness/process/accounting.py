"""Where every CPU-second of a run went, from the kernel's own accounting.

Sampling a tree's CPU misses what ends between two samples (each CLI command, each
flow-run process), so a benchmark that sampled could not say where a third of its CPU
went. Linux's process accounting (acct(2), the BSD format v3) writes one record for every
process as it exits: its pid, its parent's, its command name and its user and system CPU.
A benchmark turns it on around a run (`kernel_accounting`: needs CAP_SYS_PACCT, as root
has), and the harness names the processes only it can tell apart (`label`: a server, a
worker, each CLI command by name) in the file $BLUEPRINT_CPU_LABELS names. `by_kind` then
puts each record of the run's tree under the kind of itself or its nearest named ancestor;
the sum is what the kernel charged the tree, so nothing is left unaccounted.
"""

from __future__ import annotations

import contextlib
import ctypes
import os
import struct
from collections import defaultdict
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from itertools import takewhile
from pathlib import Path

LABELS_VARIABLE = "BLUEPRINT_CPU_LABELS"
# struct acct_v3 (linux/acct.h): flag, version, tty, exitcode, uid, gid, pid, ppid, btime,
# etime (float), utime, stime, mem, io, rw, minflt, majflt, swaps (comp_t), comm[16].
RECORD = struct.Struct("<BBHIIIIIIf8H16s")
TICKS_PER_SECOND = 100  # AHZ
FLOW_RUNS = "flow-run processes"
# What a process's own command name says, where no label says more.
PROGRAMS = {
    "chromium": "Chromium",
    "chrome_crashpad": "Chromium",
    "chrome_crashpad_handler": "Chromium",
    "node": "Playwright's driver",
    "postgres": "PostgreSQL",
    "redis-server": "Redis",
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
        return named.get(pid) or PROGRAMS.get(command.get(pid, ""))

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
        elif kinds[0] == "workers" and own_kind(record.pid) is None:
            kind = FLOW_RUNS
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
