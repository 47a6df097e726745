"""A Prefect server someone else runs (staging, production): checked before anything is
done on it, and left as it was found: what the session made there is removed.

The session never starts, stops or reads the files of that server. What it makes there
(its work pool, its deployment with its schedule, every run of that deployment and its
other runs, the flow if it made it and nothing else uses it) is written in a ledger as it
is made, and removed exactly at the end, whatever ended the session. The same `Ledger`
interface serves a server of our own, where it notes nothing: the guide's steps never ask
which kind of server they run on.
"""

from __future__ import annotations

import json
import re
import threading
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from functools import partial
from importlib.metadata import version as installed_version
from pathlib import Path
from typing import Any, Protocol, TypeVar

import httpx

from blueprint_harness.process.diagnostics import SessionMonitor
from blueprint_harness.stack.api import ApiError, ApiUnavailable, PrefectApi, credentials
from blueprint_harness.stack.models import FlowRun
from blueprint_harness.stack.sandbox import Sandbox

T = TypeVar("T")

SUPPORTED_MAJOR = 3
VERSION = re.compile(r"^(\d+)\.(\d+)\.")
# Read from the package's metadata: importing Prefect costs every pytest start 0.8 s.
PREFECT_VERSION = installed_version("prefect")
# Written on what the harness makes, so that a person reading the server knows whose it is.
OWNER_NOTE = "made by the prefect-blueprint harness (removed when its session ends)"


class ExternalServerError(RuntimeError):
    """The server at the given URL cannot be verified as it is (the message says why)."""


def check_server(
    api_url: str, auth_string: str | None, api_key: str | None, timeout: float = 10.0
) -> str:
    """The server's Prefect version, once it is shown to answer, accept the credentials,
    be a Prefect API, and run Prefect 3; otherwise an `ExternalServerError` saying which."""
    with httpx.Client(timeout=timeout, **credentials(auth_string, api_key)) as http:
        try:
            answer = http.get(f"{api_url}/admin/version")
        except httpx.TransportError as error:
            raise ExternalServerError(
                f"Cannot reach {api_url}: {type(error).__name__}: {error}. Is the server up, "
                "and is the URL its API (it ends in /api)?"
            ) from None
    if answer.status_code in (401, 403):
        raise ExternalServerError(
            f"{api_url} refused the credentials (HTTP {answer.status_code}): give them with "
            "--prefect-auth-string user:password (basic auth) or PREFECT_API_KEY."
        )
    try:
        version = answer.json() if answer.status_code == 200 else None
    except ValueError:
        version = None
    found = VERSION.match(version) if isinstance(version, str) else None
    if found is None or not isinstance(version, str):
        raise ExternalServerError(
            f"{api_url} does not answer as a Prefect API: GET /admin/version gave HTTP "
            f"{answer.status_code} {answer.text[:120]!r}"
        )
    if int(found.group(1)) != SUPPORTED_MAJOR:
        raise ExternalServerError(
            f"{api_url} runs Prefect {version}; the blueprint needs a Prefect "
            f"{SUPPORTED_MAJOR}.x server"
        )
    skew = client_newer_than_server(version)
    if skew:
        raise ExternalServerError(f"{api_url}: {skew}")
    return version


def client_newer_than_server(server_version: str, client_version: str = PREFECT_VERSION) -> str:
    """Why this Prefect cannot drive a server of `server_version` ("" when it can): a client
    of a newer minor sends fields an older server refuses (HTTP 422 `extra_forbidden`), in
    the middle of a run rather than up front."""
    server, client = VERSION.match(server_version), VERSION.match(client_version)
    if server is None or client is None:
        return ""
    if tuple(map(int, client.groups())) <= tuple(map(int, server.groups())):
        return ""
    return (
        f"the server runs Prefect {server_version}, older than this client's Prefect "
        f"{client_version}: a newer client's requests can be refused mid-run (HTTP 422 "
        f"extra_forbidden). Upgrade the server, or run the harness with Prefect "
        f"{server.group(1)}.{server.group(2)}.x (pip install 'prefect=={server.group(1)}."
        f"{server.group(2)}.*')"
    )


@dataclass(frozen=True)
class ServerSideDatabase:
    """The external server's own database: out of the harness's reach (and concern)."""

    name: str = "the server's own"

    def prepare(self) -> None:
        """Nothing to prepare: the server is someone else's."""

    def settings(self) -> dict[str, str]:
        return {}

    def describe(self) -> str:
        return "the external server's own database (not read by the harness)"

    def release(self) -> None:
        """Nothing to give back: the harness never made it."""

    def flow_run_ids(self) -> set[str]:
        raise NotImplementedError("the harness never reads another server's database")

    def emptied(self) -> ServerSideDatabase:
        raise NotImplementedError("the harness never empties another server's database")


@dataclass(frozen=True)
class ExternalServer:
    """The handle of a server someone else runs: where it answers, and no process of ours."""

    api_url: str
    ui_url: str


class Ledger(Protocol):
    """What a session made on the server it verifies, written as it is made.

    On a server of our own everything goes with the server (`NoLedger`); on one someone
    else runs (`ExternalLedger`) exactly what was made is removed at the end."""

    def claim_names(self, api: PrefectApi, pool: str, flow: str, deployment: str) -> None:
        """Refuse to go on if these names are someone else's."""

    def made_pool(self, api: PrefectApi, name: str) -> None: ...

    def made_deployment(self, deployment_id: str) -> None: ...

    def made_flow_run(self, flow_run_id: str) -> None: ...

    def clean_up(self, api: PrefectApi) -> Cleanup:
        """Remove what was made; say what was, and what could not be and why."""
        ...


@dataclass
class Cleanup:
    """What a clean-up removed, and what it could not remove, with the reason."""

    removed: list[str] = field(default_factory=list)
    not_removed: list[str] = field(default_factory=list)


class NoLedger:
    """Our own server: nothing to note, nothing to remove (it all goes with the server)."""

    def claim_names(self, api: PrefectApi, pool: str, flow: str, deployment: str) -> None:
        pass

    def made_pool(self, api: PrefectApi, name: str) -> None:
        pass

    def made_deployment(self, deployment_id: str) -> None:
        pass

    def made_flow_run(self, flow_run_id: str) -> None:
        pass

    def clean_up(self, api: PrefectApi) -> Cleanup:
        return Cleanup()


@dataclass
class ExternalLedger:
    """What this session made on a server it does not own.

    Flow runs are found two ways, so none escapes: every run of a deployment the session
    made (its triggers, the API calls of its tests, the scheduler's runs), read at the end
    before the deployment goes, and every other run the session made, noted as it learns
    its id (the local run)."""

    remove_runs: bool = True
    exact_names: bool = False  # the guide's names, not suffixed ones: refuse foreign ones
    pools: list[str] = field(default_factory=list)
    deployments: list[str] = field(default_factory=list)
    flows: list[str] = field(default_factory=list)  # made by us: found at the end
    runs: list[str] = field(default_factory=list)  # besides its deployments' runs
    _flows_before: set[str] = field(default_factory=set, repr=False)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def claim_names(self, api: PrefectApi, pool: str, flow: str, deployment: str) -> None:
        if self.exact_names:
            refuse_taken_names(api, pool, flow, deployment)

    def made_pool(self, api: PrefectApi, name: str) -> None:
        with self._lock:
            self.pools.append(name)
        api.request("PATCH", f"work_pools/{name}", json={"description": OWNER_NOTE})

    def made_deployment(self, deployment_id: str) -> None:
        with self._lock:
            if deployment_id not in self.deployments:
                self.deployments.append(deployment_id)

    def made_flow_run(self, flow_run_id: str) -> None:
        with self._lock:
            if flow_run_id not in self.runs:
                self.runs.append(flow_run_id)

    def begin(self, api: PrefectApi) -> None:
        """Note the flows the server holds before the session makes anything: a flow the
        session's runs or deployments belong to that is not among them is the session's."""
        self._flows_before = api.flow_ids()

    def made(self) -> dict[str, list[str]]:
        return {
            "pools": list(self.pools),
            "deployments": list(self.deployments),
            "flows": list(self.flows),
            "runs": list(self.runs),
        }

    def clean_up(self, api: PrefectApi) -> Cleanup:
        """Remove what the session made (its runs unless told to keep them)."""
        cleanup = Cleanup()
        runs: list[FlowRun] = []
        flows: set[str] = set()
        for deployment_id in self.deployments:
            what = f"deployment {deployment_id}"
            found = _attempt(cleanup, what, partial(api.get, f"deployments/{deployment_id}"))
            flows.update([found["flow_id"]] if found else [])
            runs += _attempt(cleanup, what, partial(api.deployment_flow_runs, deployment_id)) or []
        for run_id in self.runs:
            run = _attempt(cleanup, f"flow run {run_id}", partial(api.flow_run, run_id))
            runs += [run] if run else []
        flows.update(run.flow_id for run in runs)
        self.flows = sorted(flows - self._flows_before)
        for run_id in dict.fromkeys(run.id for run in runs if self._removes(run)):
            _delete(api, cleanup, f"flow_runs/{run_id}", f"flow run {run_id}")
        for deployment_id in self.deployments:
            _delete(api, cleanup, f"deployments/{deployment_id}", f"deployment {deployment_id}")
        for pool in self.pools:
            _delete(api, cleanup, f"work_pools/{pool}", f"work pool {pool}")
        for flow_id in self.flows:
            # Only once nothing else uses it (another session's deployment or runs).
            in_use = _attempt(cleanup, f"flow {flow_id}", partial(_flow_in_use, api, flow_id))
            if in_use is None:
                continue
            if in_use:
                cleanup.not_removed.append(f"flow {flow_id}: others' runs or deployments use it")
            else:
                _delete(api, cleanup, f"flows/{flow_id}", f"flow {flow_id}")
        return cleanup

    def _removes(self, run: FlowRun) -> bool:
        """Every run of ours goes, unless runs are kept; a kept deployment's future
        scheduled runs go all the same (its schedule is gone with it)."""
        return self.remove_runs or (run.auto_scheduled and run.state_type == "SCHEDULED")


def _flow_in_use(api: PrefectApi, flow_id: str) -> bool:
    """Whether any run or deployment (anyone's) belongs to the flow."""
    those = {"flows": {"id": {"any_": [flow_id]}}, "limit": 1}
    return bool(api.post("flow_runs/filter", those) or api.post("deployments/filter", those))


def _attempt(cleanup: Cleanup, what: str, call: Callable[[], T]) -> T | None:
    """`call()`, or None if what it reads is gone or cannot be read (said in `cleanup`)."""
    try:
        return call()
    except ApiError as error:
        if error.status_code != 404:
            cleanup.not_removed.append(f"{what}: could not be read ({error})")
    except ApiUnavailable as error:
        cleanup.not_removed.append(f"{what}: could not be read ({error})")
    return None


def _delete(api: PrefectApi, cleanup: Cleanup, path: str, what: str) -> None:
    try:
        api.request("DELETE", path)
    except ApiError as error:
        if error.status_code != 404:  # 404: already gone (with its deployment, say)
            cleanup.not_removed.append(f"{what}: {error}")
        return
    except ApiUnavailable as error:
        cleanup.not_removed.append(f"{what}: {error}")
        return
    cleanup.removed.append(what)


def refuse_taken_names(api: PrefectApi, pool: str, flow: str, deployment: str) -> None:
    """With the guide's exact names, refuse to start if they are taken by someone else."""
    taken = []
    try:
        found = api.get(f"work_pools/{pool}")
        if OWNER_NOTE not in (found.get("description") or ""):
            taken.append(f"work pool {pool!r}")
    except ApiError as error:
        if error.status_code != 404:
            raise
    try:
        api.deployment(flow, deployment)
        taken.append(f"deployment '{flow}/{deployment}'")
    except ApiError as error:
        if error.status_code != 404:
            raise
    if taken:
        raise ExternalServerError(
            f"{' and '.join(taken)} already exist(s) on {api.api_url} and this harness did not "
            "make them: it will not touch them. Use --prefect-names unique (the default), or a "
            "server of your own for the guide's exact names."
        )


@contextmanager
def external_api(
    sandbox: Sandbox, monitor: SessionMonitor, ledger: ExternalLedger, retried: Counter[str]
) -> Iterator[PrefectApi]:
    """The API of the sandbox's external server; on the way out, whatever happened, what
    `ledger` lists is removed and the removal reported in `external-cleanup.json`."""
    assert sandbox.external_api_url is not None
    api = PrefectApi(
        sandbox.api_url,
        liveness=monitor.check_alive,
        auth_string=sandbox.auth_string,
        api_key=sandbox.api_key,
        retried=retried,
    )
    try:
        yield api
    finally:
        try:
            cleanup = ledger.clean_up(api)
            write_cleanup_report(sandbox.logs / CLEANUP_REPORT, ledger, cleanup)
        finally:
            api.close()


CLEANUP_REPORT = "external-cleanup.json"


def write_cleanup_report(path: Path, ledger: ExternalLedger, cleanup: Cleanup) -> None:
    report = {"made": ledger.made(), "removed": cleanup.removed, "not_removed": cleanup.not_removed}
    path.write_text(json.dumps(report, indent=2) + "\n")


def read_cleanup_report(logs: Path) -> dict[str, Any] | None:
    """What a sandbox's clean-up on an external server reported, if it had one."""
    path = logs / CLEANUP_REPORT
    return json.loads(path.read_text()) if path.exists() else None
