"""Prefect's own zombie detection, as its docs describe ("Detect zombie flows").

A flow run whose processes vanish (its machine lost, its worker and flow process killed
at once) reports nothing: it would stay Running for ever. Flow runs send a heartbeat
every `PREFECT_FLOWS_HEARTBEAT_FREQUENCY` seconds (set for every session, see
environment.py), and this automation marks a run Crashed once its heartbeats stop for
`MISSED_AFTER_SECONDS`, unless a terminal state arrived instead.
"""

from __future__ import annotations

from typing import Any

from blueprint_harness.stack.api import PrefectApi
from blueprint_harness.stack.sandbox import HEARTBEAT_SECONDS

AUTOMATION_NAME = "Crash zombie flows"
# Two missed heartbeats (the docs use three, 90 s at the 30 s minimum): short enough for a
# test, and a heartbeat thread that slips by a whole interval still never trips it.
MISSED_AFTER_SECONDS = 2 * HEARTBEAT_SECONDS
MESSAGE = "Flow run marked as crashed due to missing heartbeats."
# Proactive triggers are evaluated every 5 s (PREFECT_SERVER_EVENTS_PROACTIVE_GRANULARITY).
EVALUATION_SECONDS = 5


def zombie_automation() -> dict[str, Any]:
    """The docs' automation, as the REST API takes it."""
    return {
        "name": AUTOMATION_NAME,
        "description": "Marks a flow run Crashed when its heartbeats stop.",
        "enabled": True,
        "trigger": {
            "type": "event",
            "posture": "Proactive",
            "after": ["prefect.flow-run.heartbeat"],
            "expect": [
                "prefect.flow-run.heartbeat",
                "prefect.flow-run.Completed",
                "prefect.flow-run.Failed",
                "prefect.flow-run.Cancelled",
                "prefect.flow-run.Crashed",
            ],
            "match": {"prefect.resource.id": ["prefect.flow-run.*"]},
            "for_each": ["prefect.resource.id"],
            "threshold": 1,
            "within": MISSED_AFTER_SECONDS,
        },
        "actions": [{"type": "change-flow-run-state", "state": "CRASHED", "message": MESSAGE}],
    }


def install_zombie_detection(api: PrefectApi) -> str:
    """Create the automation on the server; its id."""
    return str(api.post("automations/", zombie_automation())["id"])
