"""A flow run's timeline, drawn to scale: its states, and each task run's attempts with
the retry gaps between them (what the guide tells people to look at in the UI's
timeline, saved as a picture).
"""

from __future__ import annotations

import io
from collections.abc import Sequence
from datetime import datetime
from typing import TYPE_CHECKING

from blueprint_harness.stack.models import State
from blueprint_harness.stack.runs import RunRecord

if TYPE_CHECKING:
    from types import ModuleType

COLOURS = {
    "SCHEDULED": "#b0b7c3",
    "PENDING": "#8ec5ff",
    "RUNNING": "#1f6feb",
    "COMPLETED": "#2da44e",
    "FAILED": "#cf222e",
    "CRASHED": "#fb8500",
    "CANCELLED": "#6e7781",
    "CANCELLING": "#6e7781",
    "PAUSED": "#d4a72c",
}
RETRY_WAIT = "AwaitingRetry"
END_MARK_SHARE = 0.01  # a terminal state is an instant: a thin block, 1 % of the picture


def _segments(
    states: Sequence[State], origin: datetime, end_mark: float
) -> list[tuple[float, float, State]]:
    """(start, width, state) for each state, from its timestamp to the next one's."""
    spans = []
    for index, state in enumerate(states):
        start = (state.timestamp - origin).total_seconds()
        if index + 1 < len(states):
            end = (states[index + 1].timestamp - origin).total_seconds()
        else:
            end = start + end_mark
        spans.append((start, max(end - start, end_mark), state))
    return spans


def _pyplot() -> ModuleType:
    """Matplotlib, imported when a picture is drawn (0.3 s that most sessions never need)."""
    import matplotlib

    matplotlib.use("Agg")  # no display: files only
    from matplotlib import pyplot

    return pyplot


def draw(record: RunRecord, title: str) -> bytes:
    """The run's timeline as a PNG: one row for the flow run, one per task run."""
    from matplotlib.patches import Patch

    pyplot = _pyplot()
    rows = [("flow run", record.states)] + [
        (task.task_run.name, task.states) for task in record.task_runs
    ]
    rows = [(label, states) for label, states in rows if states]
    origin = min(states[0].timestamp for _, states in rows)
    span = max((states[-1].timestamp - origin).total_seconds() for _, states in rows)
    end_mark = max(span * END_MARK_SHARE, 1e-3)
    figure, axes = pyplot.subplots(
        figsize=(10, 0.55 * len(rows) + 1.5), dpi=100, layout="constrained"
    )
    try:
        for y, (_, states) in enumerate(reversed(rows)):
            for start, width, state in _segments(states, origin, end_mark):
                waiting = state.name == RETRY_WAIT
                axes.broken_barh(
                    [(start, width)],
                    (y - 0.35, 0.7),
                    facecolors="white" if waiting else COLOURS.get(state.type, "#999999"),
                    edgecolors=COLOURS["SCHEDULED"] if waiting else "none",
                    hatch="//" if waiting else None,
                )
                if waiting and state.scheduled_time is not None:
                    delay = (state.scheduled_time - state.timestamp).total_seconds()
                    axes.text(
                        start + width / 2, y, f"{delay:.2f} s", ha="center", va="center", fontsize=7
                    )
        axes.set_yticks(range(len(rows)), [label for label, _ in reversed(rows)], fontsize=8)
        axes.set_xlabel("seconds since the run's first state")
        figure.suptitle(title, fontsize=9, x=0.01, ha="left")  # a row above the legend
        axes.grid(axis="x", linestyle=":", linewidth=0.5)
        shown = ("SCHEDULED", "PENDING", "RUNNING", "COMPLETED", "FAILED", "CRASHED")
        legend = [Patch(color=COLOURS[t], label=t.title()) for t in shown]
        legend += [Patch(facecolor="white", edgecolor="#b0b7c3", hatch="//", label="retry wait")]
        axes.legend(
            handles=legend,
            fontsize=7,
            loc="lower right",
            bbox_to_anchor=(1.0, 1.0),
            ncols=len(legend),
            frameon=False,
        )
        picture = io.BytesIO()
        figure.savefig(picture, format="png")
        return picture.getvalue()
    finally:
        pyplot.close(figure)
