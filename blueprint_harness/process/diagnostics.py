"""What a person needs when something fails: log tails, log locations, dead processes."""

from __future__ import annotations

import re
import time
from collections import deque
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path
from typing import Any, Protocol, TypeVar

from blueprint_harness.process.waiting import observe, wait_for

T = TypeVar("T")


def lines_matching(path: Path, pattern: re.Pattern[str]) -> list[str]:
    """Lines of a log file that match `pattern` (none if the file is not there yet)."""
    try:
        text = path.read_text(errors="replace")
    except FileNotFoundError:
        return []
    return [line for line in text.splitlines() if pattern.search(line)]


def tail(path: Path, lines: int) -> str:
    """The last `lines` lines of a text file, or a note saying why there are none."""
    try:
        with path.open(errors="replace") as handle:
            last = deque(handle, maxlen=lines)
    except OSError as error:
        return f"  (cannot read {path}: {error.strerror})"
    if not last:
        return "  (empty)"
    return "".join(f"  | {line}" for line in last).rstrip("\n")


class Monitored(Protocol):
    """A process the session depends on."""

    @property
    def label(self) -> str: ...

    @property
    def log_path(self) -> Path: ...

    def check_alive(self) -> None: ...

    def stop(self) -> None: ...


class SessionMonitor:
    """Watches the session's processes and knows where every log is.

    Every API retry and every wait calls `check_alive()`, so a dead server or worker
    fails the current test within one poll interval, with its log tail.
    """

    def __init__(self, log_tail: int, transcript: Path | None = None) -> None:
        self.log_tail = log_tail
        self.transcript = transcript
        # Where long waits say what they see and for how long (the terminal's one updating
        # line), if anywhere; an empty message ends the line.
        self.progress: Callable[[str, float], None] | None = None
        self._processes: list[Monitored] = []

    def watch(self, process: Monitored) -> Callable[[], None]:
        """Start watching `process`; returns the call that stops watching it."""
        self._processes.append(process)
        return lambda: self._processes.remove(process)

    @property
    def processes(self) -> Iterable[Monitored]:
        return tuple(self._processes)

    def check_alive(self) -> None:
        for process in self.processes:
            process.check_alive()

    def stop_all(self) -> None:
        """Stop every watched process, newest first: a worker before the server it needs."""
        for process in reversed(self._processes):
            process.stop()

    def log_tails(self, lines: int | None = None) -> str:
        """Each watched process's log location and tail, then the CLI transcript's place."""
        lines = lines or self.log_tail
        parts = [
            f"Last {lines} lines of the {p.label} log ({p.log_path}):\n{tail(p.log_path, lines)}"
            for p in self.processes
        ]
        if self.transcript is not None:
            parts.append(f"CLI transcript: {self.transcript}")
        return "\n".join(parts) or "(no managed process is running)"

    def wait_for(
        self,
        probe: Callable[[], T],
        until: Callable[[T], bool],
        *,
        progress: Callable[[T], str] | None = None,
        **options: Any,
    ) -> T:
        """`waiting.wait_for` (same options) that fails fast on a dead process and ends
        with the log tails; with `progress`, says what it sees (to `self.progress`)."""
        watched = probe
        if progress is not None and self.progress is not None:
            began, report = time.monotonic(), self.progress

            def watched() -> T:
                value = probe()
                elapsed = time.monotonic() - began
                report(f"{progress(value)}, {elapsed:.0f}s", elapsed)
                return value

        try:
            seen: T = wait_for(
                watched, until, on_poll=self.check_alive, diagnostics=self.log_tails, **options
            )
            return seen
        finally:
            if watched is not probe and self.progress is not None:
                self.progress("", 0.0)  # the wait is over: the line goes

    def observe(self, probe: Callable[[], T], seconds: float, interval: float = 1.0) -> list[T]:
        """What `probe` returns, once every `interval`, for `seconds` (failing fast on a
        dead process): for showing that something does *not* happen."""
        return observe(probe, seconds, interval=interval, on_poll=self.check_alive)

    def wait_for_log_line(
        self,
        paths: Path | Sequence[Path],
        pattern: re.Pattern[str],
        *,
        timeout: float,
        at_least: int = 1,
    ) -> list[str]:
        """Wait until log files (one, or any of several: each worker's) hold `at_least`
        lines matching `pattern`; return them."""
        files = [paths] if isinstance(paths, Path) else list(paths)
        where = " or ".join(map(str, files))
        return self.wait_for(
            lambda: [line for path in files for line in lines_matching(path, pattern)],
            lambda lines: len(lines) >= at_least,
            timeout=timeout,
            expected=f"{at_least} line(s) matching {pattern.pattern!r} in {where}",
            describe=lambda lines: f"{len(lines)} matching line(s): {lines[-3:]}",
        )
