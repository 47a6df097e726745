"""The UI, checked the way the guide checks it by eye: in a real (headless) browser.

Debian's Chromium driven by Playwright (its own browser download cannot work on these
machines). The browser runs in the schedule's time zone, so dates read as the guide's
user in Chicago reads them. Each checked page can be saved as a screenshot beside the
sandbox's logs, and always is when a check fails.
"""

from __future__ import annotations

import contextlib
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from tenacity import (
    RetryCallState,
    Retrying,
    retry_if_exception_type,
    stop_after_attempt,
    stop_after_delay,
    wait_fixed,
)

from blueprint_harness.run_graph import (
    GRAPH_RESPONSE,
    DrawnNode,
    GraphData,
    Picture,
    TimelineNotDrawn,
    read_node,
)
from blueprint_harness.stack.api import ApiError, ApiUnavailable, PrefectApi

# Flags that work on these machines: no sandbox as root, no GPU, and no background
# networking, whose connections a closed network refuses many at a time. (WebGL, which a
# run's graph is drawn with, still works without a GPU: headless Chromium renders it with
# SwiftShader, in software.)
CHROMIUM_FLAGS = (
    "--no-sandbox",
    "--disable-gpu",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-quic",
)
UI_TIMEOUT_SECONDS = 30.0
RELOAD_AFTER_SECONDS = 5.0
GRAPH_POLL_SECONDS = 0.25


def ui_api_problem(api: PrefectApi) -> str | None:
    """Why the server's UI cannot show what its API holds, in one line (None: it can).

    A server started on another port without `PREFECT_SERVER_UI_API_URL` serves a UI that
    calls http://127.0.0.1:4200/api: every page then says "Can't connect to Server API"."""
    try:
        told = api.ui_settings().get("api_url")
    except (ApiError, ApiUnavailable, ValueError) as error:
        return f"the server's UI settings (/ui-settings) cannot be read: {error}"
    if told != api.api_url:
        return (
            f"the server's UI calls {told}, not its API at {api.api_url}: its pages cannot "
            "show the runs (start that server with PREFECT_SERVER_UI_API_URL set to its API URL)"
        )
    return None


class UiCheckFailed(AssertionError):
    """A page did not show what the guide says it shows."""


class UiPage:
    """One browser page on the session's UI, with checks that explain themselves."""

    def __init__(
        self, page: Any, base_url: str, screenshots: Path, test_name: str, save_all: bool
    ) -> None:
        self.page = page
        self.base_url = base_url
        self.screenshots = screenshots
        self.test_name = re.sub(r"[^\w.-]+", "-", test_name)
        self.save_all = save_all
        self.current: str | None = None  # the name of the page being checked
        # The run graph data the current page fetched, by flow run id (a page that fetched
        # it draws a run graph).
        self.graphs: dict[str, Any] = {}
        page.on("response", self._saw_response)

    def _saw_response(self, response: Any) -> None:
        flow_run_id = self._graph_of(response)
        if flow_run_id is not None:
            self.graphs[flow_run_id] = response

    def open(self, path: str, name: str) -> None:
        """Go to `path`; `name` labels its screenshot, saved once its checks have passed."""
        self.checked()
        self.graphs.clear()
        self.page.goto(self.base_url + path, wait_until="domcontentloaded")
        self.current = name

    def checked(self) -> None:
        """The current page passed its checks: keep its picture if pictures are wanted."""
        if self.save_all and self.current is not None:
            self.settle()
            self.screenshot(self.current)
        self.current = None

    def settle(self) -> None:
        """Give late requests a moment before a picture is taken. (Playwright returns at
        once from a "networkidle" the page reached before: it does not wait for what the
        page asks for later, such as its run graph. `drawn_node` waits for that.)"""
        from playwright.sync_api import Error

        with contextlib.suppress(Error):
            self.page.wait_for_load_state("networkidle", timeout=5000)

    def screenshot(self, label: str) -> Path:
        """The whole page; a page with a run graph only as far as the window shows it: a
        whole-page picture resizes the window while it is taken, and the graph pans on
        any resize (the picture would show it scrolled off its nodes)."""
        return self.save_picture(self.page.screenshot(full_page=not self.graphs), label)

    def save_picture(self, png: bytes, label: str) -> Path:
        self.screenshots.mkdir(parents=True, exist_ok=True)
        target = self.screenshots / f"{self.test_name}--{label}.png"
        target.write_bytes(png)
        return target

    def check(
        self, locator: Any, expected: str, *, text: str | None = None, reloading: bool = False
    ) -> None:
        """Wait (bounded) until `locator` is visible and, if given, contains `text`.

        `reloading`: reload the page each RELOAD_AFTER_SECONDS without it, for what the UI
        reads once and refreshes only every 30 s (a deployment's "Next Run" names a
        just-triggered run for the moment it is Scheduled)."""
        from playwright.sync_api import Error

        def reload(_: RetryCallState) -> None:
            self.page.reload(wait_until="domcontentloaded")

        retrying = Retrying(
            stop=stop_after_delay(UI_TIMEOUT_SECONDS) if reloading else stop_after_attempt(1),
            retry=retry_if_exception_type((AssertionError, Error)),
            before_sleep=reload,
            reraise=True,
        )
        try:
            attempt = RELOAD_AFTER_SECONDS if reloading else UI_TIMEOUT_SECONDS
            retrying(self._expect, locator.first, text, attempt)
        except (AssertionError, Error) as error:
            raise self.failed(expected, f"Playwright: {str(error).splitlines()[0]}") from None

    def failed(self, expected: str, why: str) -> UiCheckFailed:
        """The failure of a check of the current page: what it did not show, why, what
        the page said, and its picture."""
        shot = self.screenshot(f"{self.current or 'page'}-FAILED")
        seen = self.page.inner_text("body")[:1500].replace("\n", " | ")
        return UiCheckFailed(
            f"{self.page.url} did not show {expected} within {UI_TIMEOUT_SECONDS:g}s.\n"
            f"{why}\nPage text: {seen}\nScreenshot: {shot}"
        )

    @staticmethod
    def _expect(locator: Any, text: str | None, seconds: float) -> None:
        from playwright.sync_api import expect

        expect(locator).to_be_visible(timeout=seconds * 1000)
        if text is not None:
            expect(locator).to_contain_text(text, timeout=seconds * 1000)

    def run_card(self, run_name: str) -> Any:
        """The list entry of a flow run: the nearest block around its link that also
        holds its details ("N Parameters")."""
        link = self.page.get_by_role("link", name=run_name, exact=True)
        return link.locator("xpath=ancestor::*[contains(., 'Parameters')][1]")

    def run_graph(self, flow_run_id: str) -> GraphData:
        """The data the current page's run graph (timeline) is drawn from, as the page
        itself fetched it (`GET /api/flow_runs/{id}/graph-v2`, which a run's page asks for
        only once its first content is up): waited for (bounded) if not fetched yet."""
        from playwright.sync_api import Error

        what = "its run graph's data (the page's GET .../graph-v2)"
        if flow_run_id not in self.graphs:
            try:
                self.page.wait_for_event(
                    "response",
                    lambda response: self._graph_of(response) == flow_run_id,
                    timeout=UI_TIMEOUT_SECONDS * 1000,
                )
            except Error as error:
                raise self.failed(what, f"Playwright: {str(error).splitlines()[0]}") from None
        response = self.graphs[flow_run_id]
        if not response.ok:
            raise self.failed(what, f"the API answered {response.status}: {response.text()}")
        return GraphData.from_api(flow_run_id, response.json())

    @staticmethod
    def _graph_of(response: Any) -> str | None:
        """The flow run whose graph data `response` carries (None: not graph data)."""
        found = GRAPH_RESPONSE.search(response.url)
        return found.group(1) if found and response.request.method == "GET" else None

    def drawn_node(
        self,
        graph: GraphData,
        node_id: str,
        *,
        colours: Mapping[str, str],
        edge_px: int,
        state_word: str,
    ) -> DrawnNode:
        """Node `node_id` of `graph` as the page's canvas draws it, once drawn (bounded):
        its bar, found by its state's colour above the flow run's state strip, read back
        in seconds on the graph's time scale. Then the bar is clicked: the panel the UI
        opens for what was clicked must name that task run and say `state_word`."""
        from playwright.sync_api import Error

        node = graph.node(node_id)
        canvas = self.page.locator("canvas").first
        graph_box = canvas.locator("xpath=../..")  # the canvas, its controls and its panel
        box: dict[str, float] = {}
        pictures: list[Picture] = []

        def measure() -> DrawnNode:
            box.clear()
            box.update(canvas.bounding_box() or {})
            if not box:
                raise TimelineNotDrawn("the run graph's canvas is not on the page")
            pictures[:] = [Picture.from_png(self.page.screenshot(clip=box))]
            return read_node(pictures[0], graph, node_id, dict(colours), edge_px)

        retrying = Retrying(
            stop=stop_after_delay(UI_TIMEOUT_SECONDS),
            wait=wait_fixed(GRAPH_POLL_SECONDS),
            retry=retry_if_exception_type((TimelineNotDrawn, Error)),
            reraise=True,
        )
        try:
            drawn = retrying(measure)
        except (TimelineNotDrawn, Error) as error:
            if pictures:
                self.save_picture(pictures[0].png, f"{self.current or 'page'}-graph-FAILED")
            raise self.failed(f"{node.label!r} drawn on its run graph", str(error)) from None
        if self.save_all:
            self.save_picture(pictures[0].png, f"{self.current or 'page'}-graph")

        css_px = box["width"] / pictures[0].width  # a picture's pixel, in the page's
        x, y = drawn.bar.centre
        self.page.mouse.click(box["x"] + x * css_px, box["y"] + y * css_px)
        link = graph_box.get_by_role("link", name=node.label, exact=True)
        self.check(link, f"the panel of the clicked bar naming {node.label!r}")
        href = link.first.get_attribute("href") or ""
        if not href.endswith(f"/task-run/{node.id}"):
            raise self.failed(f"a link to task run {node.id}", f"the panel links to {href!r}")
        self.check(
            graph_box.get_by_text(state_word, exact=True), f"the clicked bar as {state_word}"
        )
        return drawn
