"""Where a session's time goes: server start, pool and deploy, each run, the whole session.

Recorded as the fixtures do the work, printed in pytest's terminal summary and written
as JSON (`timings.json` in the session's log folder) for CI artifacts and benchmarks.
"""

from __future__ import annotations

import json
import time
from collections import Counter
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

from blueprint_harness.stack.states import RetryDelay

SERVER_START = "server start (process start to ready)"
WORKER_START = "worker start (process start to polling)"
WORK_POOL = "work pool create"
DEPLOY = "deploy"
LOCAL_RUN = "local run (python flows/data_pipeline.py)"
RUN_PREFIX = "run "  # "run <trigger>: trigger to terminal"
TRIGGER_TO_TERMINAL = "trigger to terminal"


def describe_retries(retried: Counter[str]) -> str:
    """The API client's retries in one line: how many, and of which requests."""
    if not retried:
        return "API requests retried: none"
    each = ", ".join(f"{what} x{count}" for what, count in retried.most_common())
    return f"API requests retried: {sum(retried.values())} ({each})"


def _seconds(value: float) -> str:
    return f"{value:.3f}s" if value < 10 else f"{value:.1f}s"


@dataclass
class Timings:
    """Named durations in seconds, in the order they were recorded."""

    started: float = field(default_factory=time.monotonic)
    spans: dict[str, float] = field(default_factory=dict)
    # The API client's retries (a busy or restarting server), by cause and endpoint.
    retried: Counter[str] = field(default_factory=Counter)

    def record(self, name: str, seconds: float) -> None:
        self.spans[name] = round(seconds, 3)

    @contextmanager
    def measure(self, name: str) -> Iterator[None]:
        began = time.monotonic()
        try:
            yield
        finally:
            self.record(name, time.monotonic() - began)

    def record_run(self, key: str, seconds: float) -> None:
        self.record(f"{RUN_PREFIX}{key}: {TRIGGER_TO_TERMINAL}", seconds)

    def record_retry_delays(self, key: str, delays: Sequence[RetryDelay]) -> None:
        for delay in delays:
            name = f"{RUN_PREFIX}{key}: retry {delay.attempt} delay"
            self.record(f"{name} (scheduled)", delay.scheduled_seconds)
            self.record(f"{name} (actual)", delay.actual_seconds)

    @property
    def runs(self) -> dict[str, float]:
        """Each run's trigger-to-terminal time."""
        return {k: v for k, v in self.spans.items() if k.endswith(TRIGGER_TO_TERMINAL)}

    def critical_path(self) -> float | None:
        """Server ready + pool + deploy + the slowest run: the floor of a full session."""
        parts = [self.spans.get(SERVER_START), self.spans.get(WORK_POOL), self.spans.get(DEPLOY)]
        if None in parts or not self.runs:
            return None
        return round(sum(p for p in parts if p is not None) + max(self.runs.values()), 3)

    def as_dict(self) -> dict[str, object]:
        return {
            "wall_seconds": round(time.monotonic() - self.started, 3),
            "critical_path_seconds": self.critical_path(),
            "spans": dict(self.spans),
            "api_requests_retried": dict(self.retried),
        }

    def summary(self) -> list[str]:
        data = self.as_dict()
        lines = [f"{name}: {_seconds(value)}" for name, value in self.spans.items()]
        if data["critical_path_seconds"] is not None:
            lines.append(
                f"critical path (server + pool + deploy + slowest run): "
                f"{data['critical_path_seconds']:.1f}s"
            )
        lines.append(f"stack wall time: {data['wall_seconds']:.1f}s")
        lines.append(describe_retries(self.retried))
        return lines

    def write(self, path: Path) -> None:
        path.write_text(json.dumps(self.as_dict(), indent=2) + "\n")
