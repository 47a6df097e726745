"""The run graph (the "timeline") of a flow run's page in the UI: what the page fetched to
draw it, and what it drew.

The graph is drawn on a canvas (Prefect's @prefecthq/graphs, on pixi.js), so nothing of it
is in the DOM. Two things can be read honestly instead:

- the data the page itself fetched for it (`GET /api/flow_runs/{id}/graph-v2`, caught on
  the browser's network): a node per task run with its final state and its span (first
  attempt's start to last attempt's end), and the flow run's state history;
- the picture: a screenshot of the canvas, in which the flow run's states are a strip along
  the bottom and each task run a bar as long as its span on the same time scale (the graph's
  default "temporal" layout), coloured by its final state.

Prefect 3.9's graph draws no attempts of its own: a task that was retried is one bar from
its first attempt's start to its last attempt's end, waits included. The Running segment of
the strip, whose length in seconds the data gives, calibrates the scale, so a bar's drawn
length can be read back in seconds and compared with what it should span.
"""

from __future__ import annotations

import io
import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from blueprint_harness.stack.models import timestamp

# What a run's page fetches to draw its graph: GET /api/flow_runs/{id}/graph-v2.
GRAPH_RESPONSE = re.compile(r"/api/flow_runs/([0-9a-f-]+)/graph-v2(?:\?|$)")

# The graph's own geometry (its default config): nodes are 32 px tall, the flow run's state
# strip along the bottom a few px; a bar at least this tall is a node, never the strip.
NODE_MIN_HEIGHT_PX = 16
STRIP_MAX_HEIGHT_PX = 12
# How far a pixel's channels may stray from a state colour and still be that colour
# (anti-aliased edges are blends with the background, and do not count).
COLOUR_TOLERANCE = 24
# The graph draws no node narrower than its two rounded ends (nodeRadius 6).
MIN_NODE_WIDTH_PX = 12.0
# Below this many pixels for the strip's Running segment the scale is too coarse to read.
MIN_SCALE_PX = 30


class TimelineNotDrawn(AssertionError):
    """The canvas does not (yet) show what the graph's data says it should."""


@dataclass(frozen=True)
class GraphNode:
    """A node of the graph: a task run (or subflow run) as graph-v2 gives it."""

    id: str
    kind: str
    label: str
    state_type: str
    start: datetime | None
    end: datetime | None

    @property
    def seconds(self) -> float:
        """Its span: first attempt's start to last attempt's end (0 if it never ran)."""
        if self.start is None or self.end is None:
            return 0.0
        return (self.end - self.start).total_seconds()


@dataclass(frozen=True)
class GraphState:
    """One state of the flow run, as the strip along the graph's bottom draws it."""

    type: str
    name: str
    timestamp: datetime


@dataclass(frozen=True)
class GraphData:
    """What the page fetched to draw its graph."""

    flow_run_id: str
    nodes: tuple[GraphNode, ...]
    states: tuple[GraphState, ...]

    @classmethod
    def from_api(cls, flow_run_id: str, data: dict[str, Any]) -> GraphData:
        nodes = []
        for _, node in data.get("nodes") or []:
            start, end = node.get("start_time"), node.get("end_time")
            nodes.append(
                GraphNode(
                    id=node["id"],
                    kind=node.get("kind", ""),
                    label=node.get("label", ""),
                    state_type=node.get("state_type") or "",
                    start=timestamp(start) if start else None,
                    end=timestamp(end) if end else None,
                )
            )
        states = tuple(
            GraphState(s["type"], s["name"], timestamp(s["timestamp"]))
            for s in data.get("states") or []
        )
        return cls(flow_run_id, tuple(nodes), states)

    def node(self, node_id: str) -> GraphNode:
        for node in self.nodes:
            if node.id == node_id:
                return node
        listed = ", ".join(f"{n.label} ({n.id})" for n in self.nodes) or "none"
        raise AssertionError(
            f"the page's run graph of {self.flow_run_id} has no node {node_id}; its nodes: {listed}"
        )

    def state_span(self, state_type: str) -> tuple[datetime, float]:
        """When the flow run entered its one state of `state_type`, and for how many
        seconds it stayed (to its next state)."""
        found = [i for i, s in enumerate(self.states) if s.type == state_type]
        if len(found) != 1 or found[0] + 1 >= len(self.states):
            history = ", ".join(f"{s.name} ({s.type})" for s in self.states)
            raise TimelineNotDrawn(
                f"the flow run's states do not give one ended {state_type} state to calibrate "
                f"the graph's time scale with: {history}"
            )
        entered, left = self.states[found[0]].timestamp, self.states[found[0] + 1].timestamp
        return entered, (left - entered).total_seconds()


@dataclass(frozen=True)
class Bar:
    """A solid rectangle of one colour on the canvas (pixels, inclusive bounds)."""

    left: int
    top: int
    right: int
    bottom: int

    @property
    def width(self) -> int:
        return self.right - self.left + 1

    @property
    def height(self) -> int:
        return self.bottom - self.top + 1

    @property
    def centre(self) -> tuple[float, float]:
        return (self.left + self.right) / 2, (self.top + self.bottom) / 2

    def __str__(self) -> str:
        return f"{self.width}x{self.height} px at ({self.left}, {self.top})"


def rgb(colour: str) -> tuple[int, int, int]:
    """'#DE0529' -> (222, 5, 41)."""
    value = colour.strip().lstrip("#")
    return int(value[0:2], 16), int(value[2:4], 16), int(value[4:6], 16)


def _runs(flags: Sequence[bool]) -> list[tuple[int, int]]:
    """The [first, last] index ranges where `flags` is true."""
    runs, start = [], None
    for i, flag in enumerate(flags):
        if flag and start is None:
            start = i
        elif not flag and start is not None:
            runs.append((start, i - 1))
            start = None
    if start is not None:
        runs.append((start, len(flags) - 1))
    return runs


@dataclass(frozen=True)
class Picture:
    """A screenshot of the canvas, decoded once: its pixels as rows of (r, g, b)."""

    png: bytes
    pixels: Any  # numpy array, height x width x 3

    @classmethod
    def from_png(cls, png: bytes) -> Picture:
        import numpy as np
        from PIL import Image

        return cls(png, np.asarray(Image.open(io.BytesIO(png)).convert("RGB")).astype(int))

    @property
    def width(self) -> int:
        return int(self.pixels.shape[1])

    def commonest_colours(self, count: int = 8) -> str:
        """For a failure message: '#FFFFFF 41%, ...'."""
        import numpy as np

        flat = self.pixels.reshape(-1, 3)
        colours, counts = np.unique(flat, axis=0, return_counts=True)
        top = np.argsort(counts)[::-1][:count]
        return ", ".join(
            "#{:02X}{:02X}{:02X} {}%".format(*colours[i], counts[i] * 100 // len(flat)) for i in top
        )


def find_bars(picture: Picture, colour: str, tolerance: int = COLOUR_TOLERANCE) -> list[Bar]:
    """The solid rectangles of `colour` in the picture: each band of rows holding the
    colour, split where a column of the band holds none of it. A rounded bar's width is
    that of its widest row (its corners are anti-aliased)."""
    import numpy as np

    bars = []
    mask = (np.abs(picture.pixels - np.array(rgb(colour))) <= tolerance).all(axis=2)
    for top, bottom in _runs(mask.any(axis=1).tolist()):
        band = mask[top : bottom + 1]
        for left, right in _runs(band.any(axis=0).tolist()):
            block = band[:, left : right + 1]
            rows = [r for r in range(len(block)) if block[r].any()]
            first, last = max(
                (run for row in block for run in _runs(row.tolist())),
                key=lambda run: run[1] - run[0],
            )
            bars.append(Bar(left + first, top + rows[0], left + last, top + rows[-1]))
    return bars


@dataclass(frozen=True)
class DrawnNode:
    """A node's bar as drawn, read back in seconds on the graph's own time scale."""

    node: GraphNode
    bar: Bar
    scale_bar: Bar  # the flow run's segment on the strip that gave the scale
    px_per_second: float
    expected_left: float  # where the node's start falls on that scale
    edge_px: int  # what the picture's edges may add or shave, in pixels

    @property
    def seconds(self) -> float:
        """The bar's drawn length in seconds."""
        return self.bar.width / self.px_per_second

    @property
    def tolerance_seconds(self) -> float:
        return self.edge_px / self.px_per_second

    @property
    def expected_width(self) -> float:
        """The width the node's span should be drawn at (the graph never draws a node
        narrower than its two rounded ends, 12 px)."""
        return max(self.node.seconds * self.px_per_second, MIN_NODE_WIDTH_PX)

    @property
    def as_its_data_gives(self) -> bool:
        """Drawn where its start falls and as long as its span, to the edges' pixels."""
        return (
            abs(self.bar.left - self.expected_left) <= self.edge_px
            and abs(self.bar.width - self.expected_width) <= self.edge_px
        )

    def __str__(self) -> str:
        return (
            f"{self.node.label!r} ({self.node.state_type}) drawn {self.bar}: "
            f"{self.seconds:.2f} s at {self.px_per_second:.1f} px/s (its data: "
            f"{self.node.seconds:.2f} s from x={self.expected_left:.0f}; "
            f"±{self.tolerance_seconds:.2f} s for the edges)"
        )


def seen(picture: Picture) -> str:
    return f"the canvas's commonest colours: {picture.commonest_colours()}"


def read_node(
    picture: Picture,
    graph: GraphData,
    node_id: str,
    colours: dict[str, str],
    edge_px: int,
    scale_state: str = "RUNNING",
) -> DrawnNode:
    """Find node `node_id`'s bar in the canvas `picture` and read its length in
    seconds, the scale taken from the flow run's `scale_state` segment on the strip: the
    bar of its state's colour, node-tall, above the strip, nearest to where its start falls.

    Raises TimelineNotDrawn, saying what was seen, when the strip or the bar is missing
    or the bar is not where and as long as the node's data gives (say, a picture taken
    mid-animation)."""
    node = graph.node(node_id)
    if node.start is None:
        raise TimelineNotDrawn(f"{node.label!r} never started: the graph has nothing to draw")
    if node.state_type not in colours:
        raise AssertionError(f"no colour given for {node.label!r}'s state {node.state_type}")
    strip = [b for b in find_bars(picture, colours[scale_state]) if b.height <= STRIP_MAX_HEIGHT_PX]
    if not strip:
        raise TimelineNotDrawn(f"no {scale_state} segment on the state strip; {seen(picture)}")
    scale_bar = max(strip, key=lambda b: (b.bottom, b.width))
    if scale_bar.width < MIN_SCALE_PX:
        raise TimelineNotDrawn(
            f"the {scale_state} segment is {scale_bar}: too short to read the scale from"
        )
    entered, seconds = graph.state_span(scale_state)
    px_per_second = scale_bar.width / seconds
    expected_left = scale_bar.left + (node.start - entered).total_seconds() * px_per_second
    bars = [
        b
        for b in find_bars(picture, colours[node.state_type])
        if b.height >= NODE_MIN_HEIGHT_PX and b.bottom < scale_bar.top
    ]
    if not bars:
        raise TimelineNotDrawn(
            f"no {node.state_type} node bar above the state strip for {node.label!r}; "
            + seen(picture)
        )
    bar = min(bars, key=lambda b: abs(b.left - expected_left))
    drawn = DrawnNode(node, bar, scale_bar, px_per_second, expected_left, edge_px)
    if not drawn.as_its_data_gives:
        raise TimelineNotDrawn(f"{drawn}: not where and as long as its data gives")
    return drawn
