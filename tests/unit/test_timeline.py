"""The report's timeline picture: drawn from a run's state history, retry waits included."""

from datetime import UTC, datetime, timedelta

import pytest

from blueprint_harness.report.timeline import _segments, draw
from blueprint_harness.stack.models import FlowRun, State, TaskRun
from blueprint_harness.stack.runs import RunRecord, TaskRunRecord

pytestmark = pytest.mark.unit

T0 = datetime(2026, 11, 26, 9, 0, tzinfo=UTC)
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


def state(kind: str, name: str, at: float, retry_in: float | None = None) -> State:
    when = T0 + timedelta(seconds=at)
    scheduled = when + timedelta(seconds=retry_in) if retry_in is not None else None
    return State(kind, name, when, scheduled)


def failing_run() -> RunRecord:
    """A flow run whose one task fails, waits 2 s, retries and fails for good."""
    task_states = (
        state("PENDING", "Pending", 1.0),
        state("RUNNING", "Running", 1.1),
        state("SCHEDULED", "AwaitingRetry", 1.2, retry_in=2.0),
        state("RUNNING", "Retrying", 3.2),
        state("FAILED", "Failed", 3.3),
    )
    task = TaskRun("t1", "extract-0a1", "extract", "f1", "FAILED", "Failed", 2, 1, 2.0, None, None)
    flow_states = (
        state("SCHEDULED", "Scheduled", 0.0),
        state("PENDING", "Pending", 0.5),
        state("RUNNING", "Running", 0.9),
        state("FAILED", "Failed", 3.5),
    )
    flow = FlowRun("f1", "sly-fox", "flow", None, T0, "FAILED", "Failed", {}, T0, T0, T0, False, 1)
    return RunRecord(flow, flow_states, (TaskRunRecord(task, task_states),), ())


def test_a_run_with_a_retry_is_drawn_as_a_png(tmp_path):
    picture = draw(failing_run(), "failing-url: flow run sly-fox")

    assert picture.startswith(PNG_SIGNATURE)
    (tmp_path / "timeline.png").write_bytes(picture)  # kept by pytest for a look


def test_each_state_lasts_until_the_next_and_the_last_is_a_thin_mark():
    record = failing_run()
    task_states = record.task_runs[0].states

    spans = _segments(task_states, T0, end_mark=0.035)

    widths = {state.name: round(width, 3) for _, width, state in spans}
    assert widths["AwaitingRetry"] == 2.0  # the retry gap, to scale
    assert widths["Failed"] == 0.035
    assert [round(start, 3) for start, _, _ in spans] == [1.0, 1.1, 1.2, 3.2, 3.3]
