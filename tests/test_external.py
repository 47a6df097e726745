"""External mode, tested for real: the phases verified on a server someone else runs (one
where the blueprint's flow already runs), which is left exactly as it was found however
each session ended; and each way such a server can be unusable gets a clear error before
anything is done on it."""

from __future__ import annotations

import http.server
import os
import signal
import threading
from functools import partial

import pytest

from blueprint_harness.process.ports import LOOPBACK, free_port
from blueprint_harness.stack.api import PrefectApi
from blueprint_harness.stack.external import (
    ExternalServerError,
    check_server,
    read_cleanup_report,
)
from blueprint_harness.stack.owners import differences, snapshot
from blueprint_harness.ui import ui_api_problem
from support.outside import run_inner_pytest, send, side_by_side, write_inner_project

pytestmark = [pytest.mark.external, pytest.mark.usefixtures("own_servers")]

PHASES = ["--prefect-job", "phases", "-p", "no:randomly"]

# An external-mode session whose runs are in flight when it ends the way INNER_MODE says.
RUNS_IN_FLIGHT = """
import os, pathlib, time

import pytest

MODE = os.environ["INNER_MODE"]


def test_the_guides_runs_in_flight_when_the_session_ends(local_run, triggered_runs):
    pathlib.Path(os.environ["INNER_READY_FILE"]).touch()
    if MODE == "fail":
        pytest.fail("failing on purpose")
    time.sleep(600)
"""
# How each session ends: (what its test does, how it is ended, its exit code).
ENDINGS = {
    "failing": ("fail", None, 1),
    "ctrl-c": ("interrupt", send(signal.SIGINT, whole_group=True), 2),
    "sigterm": ("interrupt", send(signal.SIGTERM), 2),
}


def end_a_session(scratch, url, ending):
    mode, signal_it, _ = ENDINGS[ending]
    args = write_inner_project(scratch, RUNS_IN_FLIGHT)
    env = {**os.environ, "INNER_MODE": mode}
    return run_inner_pytest(scratch, [*args, url], env=env, ending=signal_it)


@pytest.fixture(scope="module")
def sessions_on_the_owners_server(owners_server, tmp_path_factory):
    """The owner's content (the blueprint's flow with runs and a deployment of its own
    among it); then two external-mode sessions at once verifying the phases; then three, two
    at a time, ended with their runs in flight (failed, Ctrl-C, SIGTERM); then the content again.
    (Five sessions at once, each with its worker and runs, saturate a SQLite owner on two
    cores: its CLI clients then back off past their bounds on its single writer.)"""
    before = snapshot(owners_server.api)
    url = f"--prefect-api-url={owners_server.api_url}"
    warehouse = f"--prefect-warehouse-url={owners_server.warehouse_url}"
    verifying = {
        name: partial(run_inner_pytest, tmp_path_factory.mktemp(name), [*PHASES, url, warehouse])
        for name in ("first", "second")
    }
    ending = {
        how: partial(end_a_session, tmp_path_factory.mktemp(how), url, how) for how in ENDINGS
    }
    ended = {**side_by_side(verifying), **side_by_side(ending, at_once=2)}
    return before, ended, snapshot(owners_server.api)


def test_two_sessions_at_once_verify_the_blueprint_on_the_owners_server(
    sessions_on_the_owners_server,
):
    _, ended, _ = sessions_on_the_owners_server

    for name in ("first", "second"):
        assert ended[name].returncode == 0, ended[name].describe()
        assert " passed" in ended[name].output
        assert "owner's warehouse is unknown" not in ended[name].output  # data checked too


@pytest.mark.parametrize("ending", ENDINGS)
def test_a_session_ended_with_its_runs_in_flight_ends_as_it_should(
    ending, sessions_on_the_owners_server
):
    _, ended, _ = sessions_on_the_owners_server

    assert ended[ending].returncode == ENDINGS[ending][2], ended[ending].describe()


def test_the_owners_content_is_exactly_as_before_however_each_session_ended(
    sessions_on_the_owners_server,
):
    before, _, after = sessions_on_the_owners_server

    assert differences(before, after) == {}


@pytest.mark.parametrize("session", ["first", "second", *ENDINGS])
def test_each_session_reports_exactly_what_it_removed_and_nothing_it_could_not(
    session, sessions_on_the_owners_server
):
    _, ended, _ = sessions_on_the_owners_server
    inner = ended[session]
    report = read_cleanup_report(next(inner.log_dir.glob("*/logs")))

    assert report is not None, inner.describe()
    made, removed = report["made"], report["removed"]
    assert report["not_removed"] == [], report
    assert made["pools"], report  # it made its pool and its deployment, and removed them
    assert [f"work pool {pool}" for pool in made["pools"]] == [
        entry for entry in removed if entry.startswith("work pool ")
    ]
    assert {f"deployment {d}" for d in made["deployments"]} <= set(removed), report
    assert made["runs"], report  # the local run and the triggers, noted as they were made
    assert {f"flow run {run}" for run in made["runs"]} <= set(removed), report
    assert made["flows"] == [], "the blueprint's flow was the owner's: it stays"


def test_the_guides_exact_names_are_refused_when_someone_else_has_them(owners_server, tmp_path):
    before = snapshot(owners_server.api)

    inner = run_inner_pytest(
        tmp_path,
        [*PHASES, f"--prefect-api-url={owners_server.api_url}", "--prefect-names=guide"],
    )

    assert inner.returncode != 0, inner.describe()
    assert "work pool 'local-process-pool'" in inner.output
    assert "this harness did not make them" in inner.output
    assert differences(before, snapshot(owners_server.api)) == {}


class _Answering(http.server.BaseHTTPRequestHandler):
    """Answers every GET with a fixed status and body (a server that is not what we want)."""

    status, body = 200, b""

    def do_GET(self):
        self.send_response(self.status)
        self.send_header("Content-Type", "application/json")
        self.end_headers()
        self.wfile.write(self.body)

    def log_message(self, *args):
        pass


@pytest.fixture
def answering():
    """A local HTTP server answering as told: `answering(401, b"...")` gives its API URL."""
    servers = []

    def start(status, body):
        handler = type("Handler", (_Answering,), {"status": status, "body": body})
        server = http.server.ThreadingHTTPServer((LOOPBACK, 0), handler)
        threading.Thread(target=server.serve_forever, daemon=True).start()
        servers.append(server)
        return f"http://{LOOPBACK}:{server.server_address[1]}/api"

    yield start
    for server in servers:
        server.shutdown()
        server.server_close()


@pytest.mark.parametrize(
    ("answer", "message"),
    [
        ((401, b'{"detail": "Unauthorized"}'), r"refused the credentials \(HTTP 401\)"),
        ((404, b"<html>not here</html>"), "does not answer as a Prefect API"),
        ((200, b'"2.19.3"'), r"runs Prefect 2\.19\.3; the blueprint needs a Prefect 3\.x server"),
        ((200, b'"3.0.11"'), r"runs Prefect 3\.0\.11, older than this client's Prefect 3\."),
    ],
    ids=["wrong-credentials", "not-prefect", "prefect-2", "older-minor"],
)
def test_an_unusable_server_gets_a_clear_error(answering, answer, message):
    with pytest.raises(ExternalServerError, match=message):
        check_server(answering(*answer), auth_string=None, api_key=None)


def test_an_unreachable_server_is_a_usage_error_before_anything_starts(tmp_path):
    url = f"http://{LOOPBACK}:{free_port()}/api"

    inner = run_inner_pytest(tmp_path, [*PHASES, f"--prefect-api-url={url}"])

    assert inner.returncode == pytest.ExitCode.USAGE_ERROR, inner.describe()
    assert f"Cannot reach {url}" in inner.output


def test_a_ui_that_calls_another_api_is_said_once_in_one_line(answering):
    """A server started on another port without PREFECT_SERVER_UI_API_URL: its UI calls
    4200. The UI checks say so once, up front, instead of each failing on the page."""
    url = answering(200, b'{"api_url": "http://127.0.0.1:4200/api", "csrf_enabled": false}')
    api = PrefectApi(url, retry_seconds=1)
    try:
        problem = ui_api_problem(api)
    finally:
        api.close()

    assert problem is not None
    assert problem.startswith(
        f"the server's UI calls http://127.0.0.1:4200/api, not its API at {url}"
    )
    assert "PREFECT_SERVER_UI_API_URL" in problem
    assert "\n" not in problem
