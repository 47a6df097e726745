"""A Prefect server someone else runs, as its owner fills it, for testing external mode.

The owner's content: another team's pool, a deployment of another flow with its
schedule, finished and scheduled runs, a pool called `local-process-pool` the harness did
not make, a variable, and — as on any server where the blueprint already runs — the
blueprint's own flow with a deployment of it under another name, a finished run of that
deployment and a scheduled run of the flow. `snapshot` reads everything a harness session
could touch, so that before and after can be compared.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from blueprint_harness.backends.warehouses import WAREHOUSE_VARIABLE
from blueprint_harness.guide import expectations
from blueprint_harness.process.waiting import wait_for
from blueprint_harness.stack.api import PrefectApi

OTHER_POOL = "other-team-pool"
OTHER_FLOW = "Other Team Flow"
OTHER_DEPLOYMENT = "nightly-other"
OTHER_CRON = "30 6 * * *"


OWNERS_BLUEPRINT_DEPLOYMENT = "owners-etl"  # the blueprint's flow, deployed by its owner
OWNERS_RUN = "owners-run"
OWNERS_VARIABLE = "owners_setting"


def _finish(api: PrefectApi, run_id: str, final: str) -> None:
    api.post(
        f"flow_runs/{run_id}/set_state",
        {"state": {"type": final, "name": final.title()}, "force": True},
    )


def _daily(cron: str, timezone: str) -> list[dict[str, Any]]:
    return [{"schedule": {"cron": cron, "timezone": timezone}, "active": True}]


def seed(api: PrefectApi, warehouse_url: str) -> None:
    """The owner's own content, made through the API as their tools would; their flow
    runs write to the warehouse at `warehouse_url` (the blueprint's Variable says so)."""
    for pool in (OTHER_POOL, expectations.WORK_POOL_NAME):
        api.post("work_pools/", {"name": pool, "type": "process", "description": "the owner's"})
    deployments = []
    for flow, name, entrypoint, schedule in (
        (OTHER_FLOW, OTHER_DEPLOYMENT, "other.py:nightly", _daily(OTHER_CRON, "UTC")),
        (
            expectations.FLOW_NAME,
            OWNERS_BLUEPRINT_DEPLOYMENT,
            expectations.ENTRYPOINT,
            _daily(expectations.SCHEDULE_CRON, expectations.SCHEDULE_TIMEZONE),
        ),
    ):
        flow_id = api.post("flows/", {"name": flow})["id"]
        body = {"name": name, "flow_id": flow_id, "work_pool_name": OTHER_POOL}
        deployment = api.post(
            "deployments/", {**body, "entrypoint": entrypoint, "schedules": schedule}
        )
        deployments.append(deployment["id"])
        for final in ("COMPLETED", "FAILED"):
            _finish(
                api, api.post(f"deployments/{deployment['id']}/create_flow_run", {})["id"], final
            )
    # A run of the blueprint's flow made by hand, waiting for its time.
    tomorrow = (datetime.now(UTC) + timedelta(days=1)).isoformat()
    api.post(
        "flow_runs/",
        {
            "flow_id": flow_id,
            "name": OWNERS_RUN,
            "state": {
                "type": "SCHEDULED",
                "name": "Scheduled",
                "state_details": {"scheduled_time": tomorrow},
            },
        },
    )
    api.post("variables/", {"name": OWNERS_VARIABLE, "value": "the owner's"})
    api.post("variables/", {"name": WAREHOUSE_VARIABLE, "value": warehouse_url})
    wait_for(  # the owner's scheduler makes its runs: the content is only whole after that
        lambda: api.flow_runs(
            deployments={"id": {"any_": deployments}},
            flow_runs={"state": {"type": {"any_": ["SCHEDULED"]}}},
        ),
        lambda runs: len(runs) >= expectations.SCHEDULER_MIN_RUNS * len(deployments),
        timeout=120,
        expected=f"the owner's scheduler's {expectations.SCHEDULER_MIN_RUNS} runs a deployment",
        describe=lambda runs: f"{len(runs)} scheduled runs",
    )


def snapshot(api: PrefectApi) -> dict[str, Any]:
    """Everything on the server a harness session could touch, in a comparable form."""

    def every(path: str, key: tuple[str, ...]) -> list[tuple[str, ...]]:
        found = api.post(path, {}) if "work_pools" in path else api.every(path)
        return sorted(tuple(str(item.get(k)) for k in key) for item in found)

    return {
        "work pools": every("work_pools/filter", ("id", "name", "type", "description")),
        "flows": every("flows/filter", ("id", "name")),
        "deployments": every("deployments/filter", ("id", "name", "flow_id", "paused")),
        "schedules": sorted(
            (d["id"], str(s["schedule"]), s["active"])
            for d in api.every("deployments/filter")
            for s in d.get("schedules") or ()
        ),
        "flow runs": every(
            "flow_runs/filter", ("id", "name", "deployment_id", "state_type", "state_name")
        ),
        "automations": every("automations/filter", ("id", "name")),
        "variables": every("variables/filter", ("id", "name", "value")),
        "blocks": every("block_documents/filter", ("id", "name", "block_type_id")),
    }


def differences(before: dict[str, Any], after: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """What a snapshot gained and lost, by kind (empty: the same)."""
    found = {}
    for kind in sorted(set(before) | set(after)):
        was, now = set(before.get(kind, ())), set(after.get(kind, ()))
        if was != now:
            found[kind] = {"gained": sorted(now - was), "lost": sorted(was - now)}
    return found
