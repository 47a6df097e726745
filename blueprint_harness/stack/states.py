"""Reading state histories: ordered paths, retry attempts and the delays between them."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime

from blueprint_harness.stack.models import State


def follows_path(names: Sequence[str], path: Sequence[str]) -> bool:
    """True if `path` appears in `names` in order, other states allowed in between."""
    remaining = iter(names)
    return all(step in remaining for step in path)


def format_history(states: Iterable[State]) -> str:
    """One line per state, for failure messages and reports."""
    lines = [f"  {state}" + (f": {state.message}" if state.message else "") for state in states]
    return "\n".join(lines) or "  (no states recorded)"


@dataclass(frozen=True)
class RetryDelay:
    """One retry of a task: when the attempt failed, when the retry was due, when it began."""

    attempt: int
    failed_at: datetime
    scheduled_for: datetime
    restarted_at: datetime

    @property
    def scheduled_seconds(self) -> float:
        """The delay Prefect scheduled: retry time minus failure time."""
        return (self.scheduled_for - self.failed_at).total_seconds()

    @property
    def actual_seconds(self) -> float:
        """The real gap: next attempt's start minus this attempt's failure."""
        return (self.restarted_at - self.failed_at).total_seconds()


def retry_delays(states: Sequence[State]) -> list[RetryDelay]:
    """Each AwaitingRetry (the failure) paired with the Retrying that follows it."""
    delays: list[RetryDelay] = []
    for index, state in enumerate(states):
        if state.name != "AwaitingRetry" or state.scheduled_time is None:
            continue
        restart = next((s for s in states[index + 1 :] if s.name == "Retrying"), None)
        if restart is None:
            continue
        delays.append(
            RetryDelay(
                attempt=len(delays) + 1,
                failed_at=state.timestamp,
                scheduled_for=state.scheduled_time,
                restarted_at=restart.timestamp,
            )
        )
    return delays
