"""The UI, checked the way the guide checks it by eye: in a real (headless) browser.

Debian's Chromium driven by Playwright (its own browser download cannot work on these
machines). The browser runs in the schedule's time zone, so dates read as the guide's
user in Chicago reads them. Each checked page can be saved as a screenshot beside the
sandbox's logs, and always is when a check fails.
"""

from __future__ import annotations

import contextlib
import re
from pathlib import Path
from typing import Any

from tenacity import (
    RetryCallState,
    Retrying,
    retry_if_exception_type,
    stop_after_attempt,
    stop_after_delay,
)

from blueprint_harness.stack.api import ApiError, ApiUnavailable, PrefectApi

# Flags that work on these machines: no sandbox as root, no GPU, and no background
# networking, whose connections a closed network refuses many at a time.
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

    def open(self, path: str, name: str) -> None:
        """Go to `path`; `name` labels its screenshot, saved once its checks have passed."""
        self.checked()
        self.page.goto(self.base_url + path, wait_until="domcontentloaded")
        self.current = name

    def checked(self) -> None:
        """The current page passed its checks: keep its picture if pictures are wanted."""
        if self.save_all and self.current is not None:
            self.settle()
            self.screenshot(self.current)
        self.current = None

    def settle(self) -> None:
        """Give late parts (the run graph) a moment to draw before a picture is taken."""
        from playwright.sync_api import Error

        with contextlib.suppress(Error):
            self.page.wait_for_load_state("networkidle", timeout=5000)

    def screenshot(self, label: str) -> Path:
        self.screenshots.mkdir(parents=True, exist_ok=True)
        target = self.screenshots / f"{self.test_name}--{label}.png"
        self.page.screenshot(path=str(target), full_page=True)
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
            shot = self.screenshot(f"{self.current or 'page'}-FAILED")
            seen = self.page.inner_text("body")[:1500].replace("\n", " | ")
            raise UiCheckFailed(
                f"{self.page.url} did not show {expected} within {UI_TIMEOUT_SECONDS:g}s.\n"
                f"Playwright: {str(error).splitlines()[0]}\nPage text: {seen}\n"
                f"Screenshot: {shot}"
            ) from None

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
