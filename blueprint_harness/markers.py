"""The test groups (pytest markers), declared once: their registration, the order a full
run takes, what each needs to run at all, and the report's results by group all read
this table."""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum


class Needs(Enum):
    """What a group needs beyond a server to talk to."""

    NOTHING = "nothing"
    OWN_SERVER = "a server the harness runs itself: not with --prefect-api-url"
    POSTGRESQL = "PostgreSQL: --prefect-backend postgresql (or production)"
    PRODUCTION = "the production shape: --prefect-backend production"


@dataclass(frozen=True)
class Marker:
    """One test group: its marker's name, what it proves, and what it needs."""

    name: str
    help: str
    needs: Needs = Needs.NOTHING


# In run order: fast checks first, then the phases as the guide takes them, then what
# breaks things on purpose. A test runs in the place of the first marker it carries.
MARKERS: tuple[Marker, ...] = (
    Marker("unit", "fast checks with no server: the harness's own logic, the flow's validation"),
    Marker("manifest", "the manifest checked before any server starts, each mistake named"),
    Marker("phase1", "Phase 1 of the guide: server, API configuration, local run Completed"),
    Marker("phase2", "Phase 2 of the guide: work pool, worker, deployment, schedule"),
    Marker("phase3", "Phase 3 of the guide: triggers, overrides, failures, retries, logs"),
    Marker("ui", "the guide's checks by eye, in headless Chromium (skipped without it)"),
    Marker("bad_input", "bad parameters and URLs get clear errors where first seen"),
    Marker("troubleshooting", "the guide's Troubleshooting table, reproduced then fixed"),
    Marker("faults", "a server, worker or flow-run process killed mid-run"),
    Marker("security", "loopback only, the user's Prefect home untouched, basic auth"),
    Marker(
        "redeploy", "redeploys onto a live server: slots kept single, history kept, changes applied"
    ),
    Marker(
        "every_deployment", "every deployment the manifest declares: deployed with --all, each runs"
    ),
    Marker("drift", "the manifest against a live server: each difference named, read-only"),
    Marker("upgrade", "the previous Prefect minor upgraded in place; its workers on this server"),
    Marker("external", "external mode against a separate server it seeds and checks"),
    Marker("up", "`blueprint up`, the stack in one command, used as a person uses it"),
    Marker("teardown", "sessions ended every way (pass, fail, Ctrl-C, SIGTERM) leave nothing"),
    Marker("postgresql", "backend-specific: needs PostgreSQL", Needs.POSTGRESQL),
    Marker("production", "backend-specific: needs the production shape", Needs.PRODUCTION),
    Marker("own_server", "needs a server the harness runs itself", Needs.OWN_SERVER),
)
MARKERS_BY_NAME = {marker.name: marker for marker in MARKERS}


def rank(names: set[str]) -> int:
    """Where a test carrying these markers runs in a full run."""
    return next((i for i, m in enumerate(MARKERS) if m.name in names), len(MARKERS))
