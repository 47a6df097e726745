"""External mode, tested for real: the phases verified on a server someone else runs, which
is left exactly as it was found; and each way such a server can be unusable gets a clear
error before anything is done on it."""

from __future__ import annotations

import http.server
import json
import threading
from functools import partial

import pytest

from fixtures.external_server import snapshot
from fixtures.inner_sessions import run_inner_session, side_by_side
from fixtures.process.ports import LOOPBACK, free_port
from fixtures.stack.external import ExternalServerError, check_server

pytestmark = [pytest.mark.external, pytest.mark.own_server]

PHASES = ["-m", "phase1 or phase2 or phase3", "-p", "no:randomly"]


@pytest.fixture(scope="module")
def two_sessions_on_the_owners_server(owners_server, tmp_path_factory):
    """The owner's content, then two external-mode sessions at once, then the content."""
    before = snapshot(owners_server.api)
    url = f"--prefect-api-url={owners_server.api_url}"
    ended = side_by_side(
        {
            name: partial(
                run_inner_session,
                tmp_path_factory.mktemp(name),
                [*PHASES, url, "--prefect-cleanup-runs"],
            )
            for name in ("first", "second")
        }
    )
    return before, ended, snapshot(owners_server.api)


def test_two_sessions_at_once_verify_the_blueprint_on_the_owners_server(
    two_sessions_on_the_owners_server,
):
    _, ended, _ = two_sessions_on_the_owners_server

    for inner in ended.values():
        assert inner.returncode == 0, inner.describe()
        assert " passed" in inner.output


def test_the_owners_content_is_exactly_as_before_and_nothing_of_ours_is_left(
    two_sessions_on_the_owners_server,
):
    before, ended, after = two_sessions_on_the_owners_server

    assert after == before
    for inner in ended.values():
        report = json.loads(next(inner.log_dir.glob("*/logs/external-cleanup.json")).read_text())
        assert report["made"]["pools"], report  # it made its pool, and removed it
        assert f"work pool {report['made']['pools'][0]}" in report["removed"]


def test_the_guides_exact_names_are_refused_when_someone_else_has_them(owners_server, tmp_path):
    before = snapshot(owners_server.api)

    inner = run_inner_session(
        tmp_path,
        [*PHASES, f"--prefect-api-url={owners_server.api_url}", "--prefect-names=guide"],
    )

    assert inner.returncode != 0, inner.describe()
    assert "work pool 'local-process-pool'" in inner.output
    assert "this harness did not make them" in inner.output
    assert snapshot(owners_server.api) == before


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
    ],
    ids=["wrong-credentials", "not-prefect", "prefect-2"],
)
def test_an_unusable_server_gets_a_clear_error(answering, answer, message):
    with pytest.raises(ExternalServerError, match=message):
        check_server(answering(*answer), auth_string=None, api_key=None)


def test_an_unreachable_server_is_a_usage_error_before_anything_starts(tmp_path):
    url = f"http://{LOOPBACK}:{free_port()}/api"

    inner = run_inner_session(tmp_path, [*PHASES, f"--prefect-api-url={url}"])

    assert inner.returncode == pytest.ExitCode.USAGE_ERROR, inner.describe()
    assert f"Cannot reach {url}" in inner.output
