"""The manifest as teams change it: a second deployment, a changed schedule and defaults,
schedules emptied, a deployment removed, and the broken variants the pre-deploy check and
`prefect deploy --all` must refuse. Each is an edit of a copy's prefect.yaml."""

from __future__ import annotations

import copy
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from blueprint_harness.manifest.declared import Document

Edit = Callable[[Document], None]

SECOND_DEPLOYMENT = "hourly-etl"
# Another schedule in another zone, other defaults: what a team adds next to production-etl.
SECOND_SCHEDULE = {"cron": "15 6 * * 1-5", "timezone": "Asia/Tokyo", "active": True}
SECOND_PARAMETERS = {
    "batch_size": 40,
    "source_url": "https://api.metric-source.com/v2/hourly",
    "target_table": "warehouse.analytics.hourly_metrics",
}
# A redeploy that changes what the guide deployed: schedule, zone, a default, the text.
CHANGED_SCHEDULE = {"cron": "30 7 * * *", "timezone": "Europe/London", "active": True}
CHANGED_BATCH_SIZE = 250
CHANGED_DESCRIPTION = "Daily load, moved to London mornings."


def _first(document: Document) -> dict[str, Any]:
    first: dict[str, Any] = document["deployments"][0]
    return first


def add_second_deployment(document: Document) -> None:
    second = {
        **copy.deepcopy(_first(document)),
        "name": SECOND_DEPLOYMENT,
        "description": "Weekday morning load of the hourly metrics (Tokyo).",
        "parameters": dict(SECOND_PARAMETERS),
        "schedules": [dict(SECOND_SCHEDULE)],
    }
    document["deployments"].append(second)


def remove_second_deployment(document: Document) -> None:
    document["deployments"] = [d for d in document["deployments"] if d["name"] != SECOND_DEPLOYMENT]


def change_schedule_and_defaults(document: Document) -> None:
    first = _first(document)
    first["schedules"] = [dict(CHANGED_SCHEDULE)]
    first["parameters"] = {**first["parameters"], "batch_size": CHANGED_BATCH_SIZE}
    first["description"] = CHANGED_DESCRIPTION


def empty_schedules(document: Document) -> None:
    _first(document)["schedules"] = []


@dataclass(frozen=True)
class Broken:
    """A mistake and where the check must name it."""

    key: str
    edit: Edit
    deployment: str | None
    field: str
    says: tuple[str, ...] = ()  # words the message must carry


def _on(name: str, change: Callable[[dict[str, Any]], None]) -> Edit:
    def edit(document: Document) -> None:
        for declared in document["deployments"]:
            if declared["name"] == name:
                change(declared)

    return edit


def _both(*edits: Edit) -> Edit:
    def edit(document: Document) -> None:
        for one in edits:
            one(document)

    return edit


GUIDE = "production-etl"
MISSING_POOL = "no-such-pool"
# Only a server can tell: the pool a deployment names is not there.
POOL_NOT_ON_SERVER = Broken(
    "pool-not-on-server",
    _both(
        add_second_deployment,
        _on(
            SECOND_DEPLOYMENT,
            lambda d: d.update(work_pool={**d["work_pool"], "name": MISSING_POOL}),
        ),
    ),
    SECOND_DEPLOYMENT,
    "work_pool.name",
    (MISSING_POOL,),
)
BROKEN: tuple[Broken, ...] = (
    Broken(
        "bad-entrypoint",
        _both(
            add_second_deployment,
            _on(
                SECOND_DEPLOYMENT,
                lambda d: d.update(entrypoint="flows/data_pipeline.py:hourly_pipeline"),
            ),
        ),
        SECOND_DEPLOYMENT,
        "entrypoint",
        ("hourly_pipeline",),
    ),
    Broken(
        "refused-default",
        _both(
            add_second_deployment,
            _on(SECOND_DEPLOYMENT, lambda d: d["parameters"].update(batch_size=0)),
        ),
        SECOND_DEPLOYMENT,
        "parameters.batch_size",
    ),
    Broken(
        "unknown-parameter",
        _on(GUIDE, lambda d: d["parameters"].update(batchsize=500)),
        GUIDE,
        "parameters.batchsize",
    ),
    Broken(
        "misspelt-key",
        _on(GUIDE, lambda d: d.update(schedule_=d.pop("schedules"))),
        GUIDE,
        "schedule_",
        ("schedule",),
    ),
    Broken(
        "misspelt-schedule-key",
        _on(GUIDE, lambda d: d["schedules"][0].update(timzone=d["schedules"][0].pop("timezone"))),
        GUIDE,
        "schedules[0].timzone",
        ("timezone",),
    ),
    Broken(
        "bad-timezone",
        _on(GUIDE, lambda d: d["schedules"][0].update(timezone="America/Chicag")),
        GUIDE,
        "schedules[0]",
        ("America/Chicag",),
    ),
    Broken(
        "bad-cron",
        _on(GUIDE, lambda d: d["schedules"][0].update(cron="0 9 * *")),
        GUIDE,
        "schedules[0]",
        ("0 9 * *",),
    ),
    Broken(
        "unknown-job-variable",
        _on(GUIDE, lambda d: d["work_pool"].update(job_variables={"workdir": "/tmp"})),
        GUIDE,
        "work_pool.job_variables.workdir",
        ("working_dir",),
    ),
    Broken(
        "job-variable-type",
        _on(GUIDE, lambda d: d["work_pool"].update(job_variables={"stream_output": "often"})),
        GUIDE,
        "work_pool.job_variables.stream_output",
    ),
    Broken(
        "no-pool",
        _on(GUIDE, lambda d: d.pop("work_pool")),
        GUIDE,
        "work_pool.name",
    ),
    Broken(
        "pull-step-in-one-folder",
        lambda document: document.update(
            pull=[
                {
                    "prefect.deployments.steps.set_working_directory": {
                        "directory": "/home/someone/prefect-blueprint"
                    }
                }
            ]
        ),
        None,
        "pull[0]",
        ("/home/someone/prefect-blueprint",),
    ),
)
