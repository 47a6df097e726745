"""The test groups (pytest markers) and where they run, declared once.

`MARKERS`: their registration, the order a full run takes, what each needs to run at all,
and the report's results by group. `JOBS`: the named selections (`pytest --prefect-job
main`) that scripts/verify, tox, the benchmarks and the deviations run. `GATE`: the parts
of the gate CI runs (scripts/test), each a selection on a backend and a Python, or a script;
README's CI table is made from it (scripts/gate.py --table) and checked against it."""

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
    Marker(
        "contract",
        "the blueprint's contract beyond the guide (README), each promise with a case that "
        "would show its breach",
    ),
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
)
MARKERS_BY_NAME = {marker.name: marker for marker in MARKERS}


def rank(names: set[str]) -> int:
    """Where a test carrying these markers runs in a full run."""
    return next((i for i, m in enumerate(MARKERS) if m.name in names), len(MARKERS))


PHASES = "phase1 or phase2 or phase3"
# The main job: what a team runs on a blueprint change (./scripts/verify), what CI gates on.
MAIN_JOB = f"manifest or {PHASES} or contract"
JOBS: dict[str, str] = {"main": MAIN_JOB, "phases": PHASES}


@dataclass(frozen=True)
class Part:
    """One part of the gate: pytest on a selection (None: every test), on a backend (None:
    the embedded default) and a Python (None: the venv's; another goes through tox), or a
    script; and why it is there."""

    name: str
    why: str
    selection: str | None = None
    backend: str | None = None
    python: str | None = None
    script: str | None = None


GATE: tuple[Part, ...] = (
    Part(
        "sqlite",
        "every test on the embedded default but the main job's (the deviations' control "
        "runs those, on the same default)",
        f"not ({MAIN_JOB})",
    ),
    Part(
        "postgresql",
        "what its database changes: the phases, the faults (its warehouse among them)",
        f"{PHASES} or contract or faults or postgresql",
        backend="postgresql",
    ),
    Part(
        "production",
        "what its layout changes: the phases, its own faults, redeploys (its scheduler apart)",
        f"{PHASES} or contract or postgresql or production or redeploy",
        backend="production",
    ),
    Part(
        "plain install",
        "pip install without extras: blueprint check, drift and up, with no pytest",
        script="scripts/plain-install",
    ),
    Part(
        "deviations",
        "the main job green on the blueprint and its faithful rewrites, red on a quarter of "
        "the breaks (the quarter turns with each commit; all of them: scripts/deviations.py)",
        script="scripts/deviations.py --share 4",
    ),
    Part("py3.12", "the harness's logic on the Python between", "unit", python="3.12"),
    Part(
        "py3.13",
        "the flow, Prefect's engine and the harness's logic on the newest Python",
        f"unit or {MAIN_JOB}",
        python="3.13",
    ),
)
