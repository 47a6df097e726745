"""A deployment edited the way Prefect's UI edits it (the requests its forms send): what
makes a live server drift from the manifest in git."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from blueprint_harness.stack.api import PrefectApi


@dataclass(frozen=True)
class UiEdits:
    """The values a person set in the UI; each is one field drift must name."""

    paused: bool = True
    batch_size: int = 1000
    job_variables: tuple[tuple[str, Any], ...] = (("env", {"PIPELINE_MODE": "manual"}),)
    concurrency_limit: int = 2
    cron: str = "0 10 * * *"
    schedule_active: bool = False

    fields = (
        "paused",
        "parameters",
        "work_pool.job_variables",
        "concurrency_limit",
        "schedules[0].cron",
        "schedules[0].active",
    )


def edit_like_the_ui(api: PrefectApi, deployment_id: str, edits: UiEdits = UiEdits()) -> None:
    """The deployment's form saved with `edits`, then its schedule's form."""
    found = api.get(f"deployments/{deployment_id}")
    api.request(
        "PATCH",
        f"deployments/{deployment_id}",
        json={
            "paused": edits.paused,
            "parameters": {**found["parameters"], "batch_size": edits.batch_size},
            "job_variables": dict(edits.job_variables),
            "concurrency_limit": edits.concurrency_limit,
        },
    )
    schedule = found["schedules"][0]
    api.request(
        "PATCH",
        f"deployments/{deployment_id}/schedules/{schedule['id']}",
        json={
            "schedule": {**schedule["schedule"], "cron": edits.cron},
            "active": edits.schedule_active,
        },
    )
