"""The Prefect REST API through httpx, with typed helpers for what the harness asserts.

A busy SQLite server answers HTTP 503 while runs write to it, and a restarting server
refuses connections for a moment: both are retried (tenacity, bounded), and each retry is
counted by cause and endpoint (`retried`), so the session's summary and the tests during
which one happened say so. Before each retry the session's liveness check runs, so a dead
server is reported at once instead of being retried into a timeout.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Callable
from typing import Any
from urllib.parse import quote

import httpx
from tenacity import (
    RetryCallState,
    Retrying,
    retry_if_exception_type,
    stop_after_delay,
    wait_random_exponential,
)

from blueprint_harness.stack.models import (
    Deployment,
    FlowRun,
    LogEntry,
    State,
    TaskRun,
    Worker,
    WorkPool,
)

RETRY_SECONDS = 30.0
_ID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")
PAGE_LIMIT = 200
EVENTS_LIMIT = 50  # /events/filter takes no more


def credentials(auth_string: str | None, api_key: str | None) -> dict[str, Any]:
    """httpx options that send a server's credentials: basic auth, or an API key."""
    if auth_string:
        return {"auth": httpx.BasicAuth(*auth_string.split(":", 1))}
    if api_key:
        return {"headers": {"Authorization": f"Bearer {api_key}"}}
    return {}


class ApiError(RuntimeError):
    """The API answered with an error status the caller did not expect."""

    def __init__(self, response: httpx.Response) -> None:
        self.status_code = response.status_code
        try:
            body: Any = response.json()
        except ValueError:
            body = response.text
        self.detail = body.get("detail", body) if isinstance(body, dict) else body
        request = response.request
        super().__init__(
            f"{request.method} {request.url} answered HTTP {self.status_code}: {self.detail}"
        )


class ApiUnavailable(RuntimeError):
    """The API could not be reached, or stayed busy, for the whole retry window."""


class _Transient(Exception):
    """An answer worth retrying (HTTP 503, connection refused, timeout)."""

    def __init__(self, message: str, cause: str) -> None:
        super().__init__(message)
        self.cause = cause  # "503" or "transport": what the retry counts say


class PrefectApi:
    """A client for one Prefect server's REST API (`.../api`)."""

    def __init__(
        self,
        api_url: str,
        *,
        liveness: Callable[[], None] = lambda: None,
        retry_seconds: float = RETRY_SECONDS,
        auth_string: str | None = None,
        api_key: str | None = None,
        retried: Counter[str] | None = None,
    ) -> None:
        self.api_url = api_url.rstrip("/")
        self._liveness = liveness
        self._retry_seconds = retry_seconds
        # Retries by cause and endpoint: "503 POST /flow_runs/filter", "transport GET ...".
        self.retried: Counter[str] = Counter() if retried is None else retried
        self._http = httpx.Client(
            base_url=self.api_url + "/", timeout=10.0, **credentials(auth_string, api_key)
        )

    def close(self) -> None:
        self._http.close()

    # -- transport ---------------------------------------------------------------------

    def request(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        """Send a request, retrying transient failures; raise `ApiError` on other errors."""

        def attempt() -> httpx.Response:
            try:
                response = self._http.request(method, path.lstrip("/"), **kwargs)
            except httpx.TransportError as error:
                raise _Transient(
                    f"{type(error).__name__}: {error} (is the Prefect server running?)",
                    "transport",
                ) from error
            if response.status_code == 503:
                raise _Transient(
                    f"HTTP 503 {response.text[:200]} (the server stayed busy: SQLite locked)",
                    "503",
                )
            return response

        def before_sleep(state: RetryCallState) -> None:
            error = state.outcome.exception() if state.outcome else None
            endpoint = _ID.sub("{id}", path.lstrip("/").removeprefix(self.api_url))
            self.retried[f"{getattr(error, 'cause', 'other')} {method} /{endpoint}"] += 1
            self._liveness()

        retrying = Retrying(
            retry=retry_if_exception_type(_Transient),
            stop=stop_after_delay(self._retry_seconds),
            # Jittered, so clients that collided on SQLite's lock do not collide again.
            wait=wait_random_exponential(multiplier=0.1, max=2.0),
            before_sleep=before_sleep,
            reraise=True,
        )
        try:
            response = retrying(attempt)
        except _Transient as error:
            raise ApiUnavailable(
                f"{method} {self.api_url}/{path.lstrip('/')} did not succeed within "
                f"{self._retry_seconds:g}s; last answer: {error}"
            ) from None
        if response.is_error:
            raise ApiError(response)
        return response

    def get(self, path: str, **kwargs: Any) -> Any:
        return self.request("GET", path, **kwargs).json()

    def post(self, path: str, json: Any = None) -> Any:
        response = self.request("POST", path, json=json if json is not None else {})
        return response.json() if response.content else None

    # -- server ------------------------------------------------------------------------

    def is_ready(self) -> bool:
        """One unretried probe of `/ready` (200 once the database answers)."""
        try:
            return self._http.get("ready", timeout=2.0).status_code == 200
        except httpx.TransportError:
            return False

    def server_version(self) -> str:
        return str(self.get("admin/version"))

    def ui_page(self, path: str) -> str:
        """A page the server's UI serves (outside `/api`), following redirects."""
        return self._ui_get(path).text

    def ui_settings(self) -> dict[str, Any]:
        """What the UI is told about its API (`/ui-settings`)."""
        settings: dict[str, Any] = self._ui_get("/ui-settings").json()
        return settings

    def _ui_get(self, path: str) -> httpx.Response:
        return self.request("GET", self.api_url.removesuffix("/api") + path, follow_redirects=True)

    # -- work pools, workers, deployments ---------------------------------------------

    def work_pool(self, name: str) -> WorkPool:
        return WorkPool.from_api(self.get(f"work_pools/{quote(name)}"))

    def workers(self, pool: str) -> list[Worker]:
        return [Worker.from_api(w) for w in self.post(f"work_pools/{quote(pool)}/workers/filter")]

    def flow_id(self, name: str) -> str | None:
        """The id of the flow called `name`, if the server has one."""
        try:
            return str(self.get(f"flows/name/{quote(name)}")["id"])
        except ApiError as error:
            if error.status_code == 404:
                return None
            raise

    def flow_ids(self) -> set[str]:
        """The id of every flow the server holds."""
        return {flow["id"] for flow in self.every("flows/filter")}

    def deployment(self, flow_name: str, deployment_name: str) -> Deployment:
        path = f"deployments/name/{quote(flow_name)}/{quote(deployment_name)}"
        return Deployment.from_api(self.get(path))

    def create_flow_run(
        self, deployment_id: str, parameters: dict[str, Any] | None = None
    ) -> FlowRun:
        """Create a run of a deployment the way the UI's "Quick run"/"Custom run" does."""
        body = {"parameters": parameters or {}}
        return FlowRun.from_api(self.post(f"deployments/{deployment_id}/create_flow_run", body))

    # -- runs --------------------------------------------------------------------------

    def flow_run(self, flow_run_id: str) -> FlowRun:
        return FlowRun.from_api(self.get(f"flow_runs/{flow_run_id}"))

    def flow_runs(self, **filters: Any) -> list[FlowRun]:
        """`POST /flow_runs/filter` with the given filter sections, oldest expected first."""
        body = {**filters, "sort": "EXPECTED_START_TIME_ASC", "limit": PAGE_LIMIT}
        return [FlowRun.from_api(r) for r in self.post("flow_runs/filter", body)]

    def deployment_flow_runs(self, deployment_id: str) -> list[FlowRun]:
        return self.flow_runs(deployments={"id": {"any_": [deployment_id]}})

    def flow_run_states(self, flow_run_id: str) -> list[State]:
        states = self.get("flow_run_states/", params={"flow_run_id": flow_run_id})
        return sorted((State.from_api(s) for s in states), key=lambda s: s.timestamp)

    def task_runs(self, flow_run_id: str) -> list[TaskRun]:
        body = {
            "flow_runs": {"id": {"any_": [flow_run_id]}},
            "sort": "EXPECTED_START_TIME_ASC",
            "limit": PAGE_LIMIT,
        }
        return [TaskRun.from_api(t) for t in self.post("task_runs/filter", body)]

    def task_run_states(self, task_run_id: str) -> list[State]:
        states = self.get("task_run_states/", params={"task_run_id": task_run_id})
        return sorted((State.from_api(s) for s in states), key=lambda s: s.timestamp)

    def events(self, resource_id: str, name: str | None = None) -> list[dict[str, Any]]:
        """The stored events about `resource_id` (named `name`, if given; the last hour's)."""
        wanted: dict[str, Any] = {"resource": {"id": [resource_id]}}
        if name is not None:
            wanted["event"] = {"name": [name]}
        body = {"filter": wanted, "limit": EVENTS_LIMIT}
        events: list[dict[str, Any]] = self.post("events/filter", body)["events"]
        return events

    def logs(self, flow_run_id: str) -> list[LogEntry]:
        """Every log line the API stored for a flow run (its tasks' included), in order."""
        body = {"logs": {"flow_run_id": {"any_": [flow_run_id]}}, "sort": "TIMESTAMP_ASC"}
        return [LogEntry.from_api(e) for e in self.every("logs/filter", body)]

    def every(self, path: str, body: dict[str, Any] | None = None) -> list[dict[str, Any]]:
        """Every item a `.../filter` endpoint holds, read a page at a time."""
        items: list[dict[str, Any]] = []
        while True:
            page = self.post(path, {**(body or {}), "limit": PAGE_LIMIT, "offset": len(items)})
            items.extend(page)
            if len(page) < PAGE_LIMIT:
                return items
