"""Reading the UI's run graph (timeline): the data the page fetched, and the bars it drew,
on pictures drawn here the way the graph draws them."""

import io
from datetime import UTC, datetime, timedelta

import pytest

from blueprint_harness.guide import expectations as expected
from blueprint_harness.run_graph import GraphData, Picture, TimelineNotDrawn, find_bars, read_node

pytestmark = pytest.mark.unit

T0 = datetime(2026, 12, 2, 9, 31, 10, tzinfo=UTC)
COLOURS = dict(expected.UI_GRAPH_STATE_COLOURS)
EDGE = expected.UI_GRAPH_EDGE_PIXELS
TASK_ID = "01a23617-fb8b-77d5-9d4c-4a9aa5ae46ee"
# The flow run is Running for 10 s, drawn 100 px long from x=100: 10 px per second.
RUNNING_LEFT, PX_PER_SECOND = 100, 10


def at(seconds: float) -> str:
    return (T0 + timedelta(seconds=seconds)).isoformat().replace("+00:00", "Z")


def graph_v2(task_start: float, task_seconds: float, state: str = "FAILED") -> dict:
    """graph-v2 as the API answers it for a run whose one task ran from `task_start`."""
    task = {
        "kind": "task-run",
        "id": TASK_ID,
        "label": "extract-164",
        "state_type": state,
        "start_time": at(task_start),
        "end_time": at(task_start + task_seconds),
        "parents": [],
        "children": [],
        "encapsulating": [],
        "artifacts": [],
    }
    return {
        "start_time": at(0),
        "end_time": at(10),
        "root_node_ids": [TASK_ID],
        "nodes": [[TASK_ID, task]],
        "artifacts": [],
        "states": [
            {"id": "1", "timestamp": at(-7), "type": "SCHEDULED", "name": "Scheduled"},
            {"id": "2", "timestamp": at(-6), "type": "PENDING", "name": "Pending"},
            {"id": "3", "timestamp": at(0), "type": "RUNNING", "name": "Running"},
            {"id": "4", "timestamp": at(10), "type": "FAILED", "name": "Failed"},
        ],
    }


def canvas(*bars: tuple[float, float, str], strip: bool = True) -> Picture:
    """A 600x300 canvas: the flow run's state strip along the bottom (Pending, Running
    for 10 s from x=100, then Failed), and a node-tall rounded bar per (start s, length
    s, state) on the same scale, on the Failed run's pale background."""
    from PIL import Image, ImageDraw  # here: collecting the suite stays light

    image = Image.new("RGB", (600, 300), "#FCE6EA")
    draw = ImageDraw.Draw(image)
    if strip:
        draw.rectangle((40, 292, RUNNING_LEFT - 1, 299), fill="#554B58")
        draw.rectangle((RUNNING_LEFT, 292, RUNNING_LEFT + 99, 299), fill=COLOURS["RUNNING"])
        draw.rectangle((RUNNING_LEFT + 100, 292, 599, 299), fill=COLOURS["FAILED"])
    for row, (start, seconds, state) in enumerate(bars):
        left = RUNNING_LEFT + start * PX_PER_SECOND
        width = max(seconds * PX_PER_SECOND, 12)
        top = 60 + row * 56
        draw.rounded_rectangle(
            (left, top, left + width - 1, top + 31), radius=6, fill=COLOURS[state]
        )
        draw.text((left + width + 4, top + 10), "extract-164", fill="black")
    out = io.BytesIO()
    image.save(out, format="PNG")
    return Picture.from_png(out.getvalue())


def read(picture: Picture, data: dict):
    return read_node(picture, GraphData.from_api("run", data), TASK_ID, COLOURS, EDGE)


def test_a_retried_task_is_read_back_as_long_as_its_attempts_and_waits():
    drawn = read(canvas((0.3, 6.1, "FAILED")), graph_v2(0.3, 6.1))

    assert drawn.px_per_second == pytest.approx(PX_PER_SECOND)
    assert drawn.bar.width == 61
    assert drawn.seconds == pytest.approx(6.1)
    assert drawn.bar.left == RUNNING_LEFT + 3


def test_a_task_that_was_not_retried_is_drawn_short():
    drawn = read(canvas((0.3, 0.1, "FAILED")), graph_v2(0.3, 0.1))

    assert drawn.bar.width == 12  # never narrower than its rounded ends
    assert drawn.seconds == pytest.approx(1.2)
    waits = expected.TASK_RETRIES * expected.TASK_RETRY_DELAY_SECONDS
    assert drawn.seconds < waits - drawn.tolerance_seconds


def test_a_blank_graph_is_not_drawn():
    with pytest.raises(
        TimelineNotDrawn, match=r"no FAILED node bar above the state strip.*#FCE6EA"
    ):
        read(canvas(), graph_v2(0.3, 6.1))


def test_a_canvas_without_its_state_strip_is_not_drawn():
    with pytest.raises(TimelineNotDrawn, match="no RUNNING segment on the state strip"):
        read(canvas((0.3, 6.1, "FAILED"), strip=False), graph_v2(0.3, 6.1))


@pytest.mark.parametrize(
    ("start", "seconds"),
    [(2.0, 6.1), (0.3, 4.0)],
    ids=["elsewhere-mid-animation", "shorter-than-its-data"],
)
def test_a_bar_not_where_or_as_long_as_its_data_gives_is_refused(start, seconds):
    with pytest.raises(TimelineNotDrawn, match="not where and as long as its data gives"):
        read(canvas((start, seconds, "FAILED")), graph_v2(0.3, 6.1))


def test_the_bar_of_the_node_is_the_one_where_its_start_falls():
    picture = canvas((5.0, 1.0, "FAILED"), (0.3, 6.1, "FAILED"))

    assert read(picture, graph_v2(0.3, 6.1)).bar.left == RUNNING_LEFT + 3


def test_a_bar_of_another_state_is_not_the_node():
    with pytest.raises(TimelineNotDrawn, match="no FAILED node bar"):
        read(canvas((0.3, 6.1, "COMPLETED")), graph_v2(0.3, 6.1))


def test_bars_are_found_by_colour_with_their_anti_aliased_corners():
    picture = canvas((0.3, 6.1, "FAILED"))

    bars = find_bars(picture, COLOURS["FAILED"])

    node = [b for b in bars if b.height == 32]
    strip = [b for b in bars if b.height == 8]
    assert [(b.left, b.width) for b in node] == [(103, 61)]
    assert [(b.left, b.width) for b in strip] == [(200, 400)]


def test_the_graph_data_names_a_missing_node_and_its_nodes():
    graph = GraphData.from_api("run-1", graph_v2(0.3, 6.1))

    with pytest.raises(AssertionError, match=r"no node other-id; its nodes: extract-164"):
        graph.node("other-id")
    assert graph.node(TASK_ID).seconds == pytest.approx(6.1)
    assert graph.state_span("RUNNING") == (T0, 10.0)


def test_the_scale_needs_one_ended_running_state():
    data = graph_v2(0.3, 6.1)
    data["states"] = data["states"][:3]  # still Running

    with pytest.raises(TimelineNotDrawn, match="one ended RUNNING state"):
        GraphData.from_api("run-1", data).state_span("RUNNING")
