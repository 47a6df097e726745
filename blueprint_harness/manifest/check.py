"""The pre-deploy check: everything that can be known of the manifest before any server
starts (strict keys, schedules as Prefect parses them, job variables against the pool
type's template, each entrypoint imported and its defaults validated), and, given a
server, whether the pools the deployments name exist there."""

from __future__ import annotations

import os
import time
from collections.abc import Collection, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from blueprint_harness.manifest.declared import MANIFEST, read_manifest
from blueprint_harness.manifest.entrypoints import import_entrypoints
from blueprint_harness.manifest.problems import Problem, describe
from blueprint_harness.manifest.strict import CLEAR_SCHEDULES_SETTING, manifest_problems


@dataclass(frozen=True)
class ManifestCheck:
    """The problems found and how long finding them took."""

    manifest: Path
    problems: list[Problem]
    seconds: float
    flows: dict[str, str]  # entrypoint -> flow name, for each that imported

    @property
    def ok(self) -> bool:
        return not self.problems

    def describe(self) -> str:
        return f"{self.manifest} ({self.seconds:.1f} s): {describe(self.problems)}"


def _imports(document: dict[str, Any]) -> list[dict[str, Any]]:
    """What the fresh process checks: each deployment's entrypoint, with its defaults and
    each schedule's parameters over them."""
    items = []
    for declared in document.get("deployments") or []:
        if not isinstance(declared, dict) or not isinstance(declared.get("entrypoint"), str):
            continue
        defaults = declared.get("parameters") or {}
        if not isinstance(defaults, dict):
            continue
        parameters = {"parameters": defaults}
        for i, schedule in enumerate(declared.get("schedules") or []):
            extra = schedule.get("parameters") if isinstance(schedule, dict) else None
            if isinstance(extra, dict) and extra:
                parameters[f"schedules[{i}].parameters"] = {**defaults, **extra}
        items.append(
            {
                "deployment": str(declared.get("name")),
                "entrypoint": declared["entrypoint"],
                "parameters": parameters,
            }
        )
    return items


def check_manifest(
    project_dir: Path, manifest: str = MANIFEST, env: Mapping[str, str] | None = None
) -> ManifestCheck:
    """Check the project's manifest without a server, for a deploy run with `env`'s
    settings (default: this process's environment)."""
    settings = os.environ if env is None else env
    clears = settings.get(CLEAR_SCHEDULES_SETTING, "").lower() in ("1", "true", "yes")
    began = time.monotonic()
    path = project_dir / manifest
    try:
        document = read_manifest(path)
    except (OSError, ValueError, yaml.YAMLError) as error:
        problem = Problem(manifest, None, "", f"cannot be read: {error}")
        return ManifestCheck(path, [problem], time.monotonic() - began, {})
    problems = manifest_problems(document, manifest, clears)
    imported = import_entrypoints(project_dir, _imports(document))
    problems += [
        Problem(manifest, d or None, field, message) for d, field, message in imported.problems
    ]
    return ManifestCheck(path, problems, time.monotonic() - began, imported.flows)


def pool_problems(
    project_dir: Path, pools: Collection[str], manifest: str = MANIFEST
) -> list[Problem]:
    """The deployments whose work pool is not on the server (`pools`: the pools it has):
    their runs would wait for a worker that can never exist."""
    return [
        Problem(
            manifest,
            str(d.get("name")),
            "work_pool.name",
            f"the server has no work pool {pool!r} (it has {sorted(pools)})",
        )
        for d in read_manifest(project_dir / manifest).get("deployments") or []
        if isinstance(d, dict)
        and (pool := (d.get("work_pool") or {}).get("name"))
        and pool not in pools
    ]
