"""Drift: what a live server holds against what the manifest declares, read-only.

Each deployment the manifest declares is compared field by field with the server's
(entrypoint, pool, queue, parameters, schedules with zone and active flag, paused,
concurrency, job variables); deployments of the same flows that the manifest no longer
names are listed (still scheduled, as Prefect keeps them). Values that hold a template
(`{{ ... }}`) are resolved only at deploy time and are not compared.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from blueprint_harness.guide.schedules import same_cron
from blueprint_harness.manifest.declared import MANIFEST, read_manifest, same_entrypoint
from blueprint_harness.stack.api import PrefectApi

DEFAULT_QUEUE = "default"
DEFAULT_TIMEZONE = "UTC"


@dataclass(frozen=True)
class Difference:
    """One field of one deployment that differs (`field` "" for a whole deployment)."""

    deployment: str  # "flow/deployment", or the manifest's name when not on the server
    field: str
    manifest: Any
    server: Any

    def __str__(self) -> str:
        if not self.field:
            return f"{self.deployment}: {self.manifest}; {self.server}"
        return (
            f"{self.deployment}: {self.field}: manifest {self.manifest!r}, server {self.server!r}"
        )


@dataclass(frozen=True)
class DriftReport:
    server: str
    manifest: Path
    compared: tuple[str, ...]  # the server's deployments compared
    differences: tuple[Difference, ...]

    def describe(self) -> str:
        head = f"{self.manifest} against {self.server}: {len(self.compared)} deployment(s) compared"
        if not self.differences:
            return f"{head}, no drift"
        lines = "\n".join(f"- {d}" for d in self.differences)
        return f"{head}, {len(self.differences)} difference(s):\n{lines}"


def _templated(value: Any) -> bool:
    return "{{" in repr(value)


def _schedule(declared: Mapping[str, Any]) -> dict[str, Any]:
    return {
        "cron": declared.get("cron"),
        "interval": declared.get("interval"),
        "rrule": declared.get("rrule"),
        "timezone": declared.get("timezone") or DEFAULT_TIMEZONE,
        "active": declared.get("active", True) not in (False, "false", "no"),
    }


def _server_schedule(found: Mapping[str, Any]) -> dict[str, Any]:
    spec = found.get("schedule") or {}
    return {
        "cron": spec.get("cron"),
        "interval": spec.get("interval"),
        "rrule": spec.get("rrule"),
        "timezone": spec.get("timezone") or DEFAULT_TIMEZONE,
        "active": bool(found.get("active")),
    }


def _same_schedule_value(key: str, ours: Any, theirs: Any) -> bool:
    if key == "cron" and ours and theirs:
        return same_cron(str(ours), str(theirs))
    if key == "interval" and ours is not None and theirs is not None:
        return float(ours) == float(theirs)
    return bool(ours == theirs)


def _concurrency(value: Any) -> Any:
    return value.get("limit") if isinstance(value, Mapping) else value


def compare(
    declared: Mapping[str, Any], found: Mapping[str, Any]
) -> Iterator[tuple[str, Any, Any]]:
    """(field, manifest's, server's) for each difference of one deployment."""
    pool = declared.get("work_pool") or {}
    pairs = {
        "work_pool.name": (pool.get("name"), found.get("work_pool_name")),
        "work_pool.work_queue_name": (
            pool.get("work_queue_name") or DEFAULT_QUEUE,
            found.get("work_queue_name") or DEFAULT_QUEUE,
        ),
        "work_pool.job_variables": (
            pool.get("job_variables") or {},
            found.get("job_variables") or {},
        ),
        "parameters": (declared.get("parameters") or {}, found.get("parameters") or {}),
        "paused": (bool(declared.get("paused", False)), bool(found.get("paused"))),
        "concurrency_limit": (
            _concurrency(declared.get("concurrency_limit")),
            # `concurrency_limit` in answers is always None since Prefect 3.1 (deprecated).
            (found.get("global_concurrency_limit") or {}).get("limit"),
        ),
    }
    if not same_entrypoint(found.get("entrypoint"), str(declared.get("entrypoint"))):
        yield "entrypoint", declared.get("entrypoint"), found.get("entrypoint")
    for field, (ours, theirs) in pairs.items():
        if ours != theirs and not _templated(ours):
            yield field, ours, theirs
    ours_schedules = [
        _schedule(s) for s in declared.get("schedules") or [] if isinstance(s, Mapping)
    ]
    theirs_schedules = [_server_schedule(s) for s in found.get("schedules") or []]
    if len(ours_schedules) != len(theirs_schedules):
        yield "schedules", ours_schedules, theirs_schedules
        return
    for i, (ours, theirs) in enumerate(zip(ours_schedules, theirs_schedules, strict=True)):
        for key in ours:
            if not _same_schedule_value(key, ours[key], theirs[key]) and not _templated(ours[key]):
                yield f"schedules[{i}].{key}", ours[key], theirs[key]


def drift(api: PrefectApi, project_dir: Path, manifest: str = MANIFEST) -> DriftReport:
    """Compare the project's manifest with the server `api` talks to. Reads only."""
    declared_all = [
        d
        for d in read_manifest(project_dir / manifest).get("deployments") or []
        if isinstance(d, Mapping)
    ]
    flows = {flow["id"]: flow["name"] for flow in api.every("flows/filter")}
    on_server = api.every("deployments/filter")
    differences: list[Difference] = []
    matched: dict[str, Mapping[str, Any]] = {}
    for declared in declared_all:
        name = str(declared.get("name"))
        same_name = [d for d in on_server if d["name"] == name]
        found = next(
            (
                d
                for d in same_name
                if same_entrypoint(d.get("entrypoint"), str(declared.get("entrypoint")))
            ),
            same_name[0] if len(same_name) == 1 else None,
        )
        if found is None:
            differences.append(Difference(name, "", "in the manifest", "not on the server"))
            continue
        full = f"{flows.get(found['flow_id'], found['flow_id'])}/{name}"
        matched[found["id"]] = found
        differences += [
            Difference(full, f, ours, theirs) for f, ours, theirs in compare(declared, found)
        ]
    our_flows = {d["flow_id"] for d in matched.values()}
    for extra in on_server:
        if extra["flow_id"] in our_flows and extra["id"] not in matched:
            full = f"{flows.get(extra['flow_id'])}/{extra['name']}"
            active = sum(bool(s.get("active")) for s in extra.get("schedules") or [])
            differences.append(
                Difference(
                    full,
                    "",
                    "not in the manifest",
                    f"on the server with {active} active schedule(s)",
                )
            )
    compared = tuple(f"{flows.get(d['flow_id'])}/{d['name']}" for d in matched.values())
    return DriftReport(api.api_url, project_dir / manifest, compared, tuple(differences))
