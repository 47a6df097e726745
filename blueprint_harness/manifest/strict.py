"""The manifest read strictly, by Prefect's own models: what `prefect deploy` silently
ignores (a misspelt key) or accepts only to fail later (a job variable the pool's job
template does not know, a folder that exists on one machine) is a problem here.

Prefect's deploy models ignore unknown keys (`extra="ignore"`): their fields are the
keys Prefect reads, so any other key is a mistake of the manifest's author.
"""

from __future__ import annotations

import difflib
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from functools import cache
from pathlib import PurePosixPath
from typing import Any

from jsonschema import Draft202012Validator
from pydantic import BaseModel, ValidationError

from blueprint_harness.manifest.problems import Problem

DEFAULT_POOL_TYPE = "process"
# Prefect's documentation keeps YAML anchors for shared configuration in a top-level
# `definitions:` section that its models then ignore by design: not a mistake.
ANCHORS_SECTIONS = frozenset({"definitions"})
WORKING_DIRECTORY_STEP = "prefect.deployments.steps.set_working_directory"
# Prefect 3.9 keeps a deployment's schedules when a redeploy's `schedules:` is empty (a
# deprecated behaviour, with a FutureWarning) unless this setting is true.
CLEAR_SCHEDULES_SETTING = "PREFECT_DEPLOYMENTS_CLEAR_SCHEDULES_ON_EMPTY"


@dataclass(frozen=True)
class _PrefectDeploy:
    """What `prefect deploy` reads a manifest with, and the pool types' job templates the
    check knows (the blueprint's workers are process workers; a pool's type is the pool's,
    on the server, not the manifest's)."""

    manifest: type[BaseModel]
    deployment: type[BaseModel]
    pool: type[BaseModel]
    schedule: type[BaseModel]
    to_schedule: Callable[[dict[str, Any]], dict[str, Any]]
    job_templates: Mapping[str, dict[str, Any]]


@cache
def _prefect() -> _PrefectDeploy:
    # Prefect's CLI package takes ~0.9 s to import: a check pays it, not every pytest start.
    from prefect.cli.deploy._models import (
        DeploymentConfig,
        PrefectYamlModel,
        RawScheduleConfig,
        WorkPoolConfig,
    )
    from prefect.cli.deploy._schedules import _schedule_config_to_deployment_schedule
    from prefect.workers.process import ProcessWorker

    return _PrefectDeploy(
        PrefectYamlModel,
        DeploymentConfig,
        WorkPoolConfig,
        RawScheduleConfig,
        _schedule_config_to_deployment_schedule,
        {"process": ProcessWorker.get_default_base_job_template()},
    )


def _keys(model: type[BaseModel]) -> set[str]:
    return {field.alias or name for name, field in model.model_fields.items()} | set(
        model.model_fields
    )


def _unknown(
    found: Mapping[str, Any], model: type[BaseModel], where: str
) -> Iterator[tuple[str, str]]:
    known = _keys(model)
    for key in found:
        if key not in known:
            close = difflib.get_close_matches(str(key), sorted(known), n=1)
            hint = f" (did you mean {close[0]!r}?)" if close else ""
            yield f"{where}{key}", f"unknown key: Prefect ignores it{hint}"


def _templated(value: Any) -> bool:
    return isinstance(value, str) and "{{" in value


def _validation_problems(error: ValidationError, prefix: str) -> Iterator[tuple[str, str]]:
    for detail in error.errors():
        field = ".".join(str(part) for part in detail["loc"])
        yield f"{prefix}{field}", detail["msg"]


def manifest_problems(
    document: Mapping[str, Any], file: str, clears_empty_schedules: bool = False
) -> list[Problem]:
    """The problems of the manifest as a whole and of each deployment it declares
    (`clears_empty_schedules`: whether the deploy runs with CLEAR_SCHEDULES_SETTING on)."""
    problems = [
        Problem(file, None, field, message)
        for field, message in _unknown(document, _prefect().manifest, "")
        if field not in ANCHORS_SECTIONS
    ]
    for field in ("build", "push", "pull"):
        problems += [
            Problem(file, None, f"{field}[{i}]", message)
            for i, message in _step_problems(document.get(field))
        ]
    deployments = document.get("deployments") or []
    if not isinstance(deployments, list):
        return [*problems, Problem(file, None, "deployments", "must be a list of deployments")]
    names = [d.get("name") if isinstance(d, dict) else None for d in deployments]
    for index, declared in enumerate(deployments):
        name = names[index] if isinstance(names[index], str) else f"#{index + 1}"
        if not isinstance(declared, dict):
            problems.append(Problem(file, name, "", "a deployment must be a mapping"))
            continue
        if names.count(declared.get("name")) > 1:
            problems.append(Problem(file, name, "name", "declared more than once"))
        problems += [
            Problem(file, name, field, message)
            for field, message in deployment_problems(declared, clears_empty_schedules)
        ]
    return problems


def deployment_problems(
    declared: Mapping[str, Any], clears_empty_schedules: bool = False
) -> list[tuple[str, str]]:
    """(field, message) for each mistake of one deployment entry."""
    found = list(_unknown(declared, _prefect().deployment, ""))
    try:
        # Schedules are parsed one by one below: a union's every branch would complain here.
        rest = {k: v for k, v in declared.items() if k not in ("schedule", "schedules")}
        _prefect().deployment.model_validate(rest)
    except ValidationError as error:
        found += list(_validation_problems(error, ""))
    if not declared.get("name"):
        found.append(("name", "missing: `prefect deploy --name` cannot select the deployment"))
    entrypoint = declared.get("entrypoint")
    if not isinstance(entrypoint, str) or ":" not in entrypoint:
        found.append(("entrypoint", f"{entrypoint!r} is not `path/to/file.py:flow_function`"))
    pool = declared.get("work_pool") or {}
    if not isinstance(pool, dict) or not pool.get("name"):
        found.append(("work_pool.name", "missing: `prefect deploy --no-prompt` needs a work pool"))
    else:
        found += list(_unknown(pool, _prefect().pool, "work_pool."))
        found += list(job_variable_problems(pool.get("job_variables") or {}))
    found += list(schedule_problems(declared.get("schedules")))
    if declared.get("schedules") == [] and not clears_empty_schedules:
        found.append(
            (
                "schedules",
                "empty: on a redeploy Prefect keeps the schedules the deployment has; set "
                f"{CLEAR_SCHEDULES_SETTING}=true for the deploy to clear them",
            )
        )
    for field in ("build", "push", "pull"):
        found += [(f"{field}[{i}]", message) for i, message in _step_problems(declared.get(field))]
    return found


def schedule_problems(schedules: Any) -> Iterator[tuple[str, str]]:
    """Each schedule parsed the way `prefect deploy` parses it."""
    if schedules is None:
        return
    if not isinstance(schedules, list):
        yield "schedules", "must be a list of schedules"
        return
    for i, schedule in enumerate(schedules):
        where = f"schedules[{i}]"
        if not isinstance(schedule, dict):
            yield where, "a schedule must be a mapping"
            continue
        found = list(_unknown(schedule, _prefect().schedule, f"{where}."))
        yield from found
        try:
            known = _keys(_prefect().schedule)
            _prefect().schedule.model_validate({k: v for k, v in schedule.items() if k in known})
            _prefect().to_schedule(dict(schedule))
        except (ValidationError, ValueError) as error:
            reason = error.errors()[0]["msg"] if isinstance(error, ValidationError) else str(error)
            yield where, f"Prefect refuses it: {reason}"


def job_variable_problems(
    job_variables: Any, pool_type: str = DEFAULT_POOL_TYPE
) -> Iterator[tuple[str, str]]:
    """Job variables against the pool type's base job template: unknown names and values
    of the wrong type (a worker would ignore the one and fail on the other)."""
    if not isinstance(job_variables, Mapping):
        yield "work_pool.job_variables", "must be a mapping"
        return
    schema = _prefect().job_templates[pool_type]["variables"]
    properties: dict[str, Any] = schema.get("properties", {})
    for name, value in job_variables.items():
        field = f"work_pool.job_variables.{name}"
        if name not in properties:
            close = difflib.get_close_matches(str(name), sorted(properties), n=1)
            hint = f" (did you mean {close[0]!r}?)" if close else ""
            yield field, f"not a variable of the {pool_type} pool's job template{hint}"
        elif not _templated(value):
            for error in Draft202012Validator(properties[name]).iter_errors(value):
                inner = "".join(f".{part}" for part in error.absolute_path)
                yield f"{field}{inner}", f"{error.instance!r} is not what the template allows"


def _step_problems(steps: Any) -> Iterator[tuple[int, str]]:
    """A working directory written as an absolute literal path works on the machine that
    wrote it only (what `prefect init` writes): every other checkout runs elsewhere."""
    if isinstance(steps, dict):
        steps = [steps]
    for i, step in enumerate(steps or []):
        settings = step.get(WORKING_DIRECTORY_STEP) if isinstance(step, dict) else None
        directory = settings.get("directory") if isinstance(settings, dict) else None
        if (
            isinstance(directory, str)
            and not _templated(directory)
            and PurePosixPath(directory).is_absolute()
        ):
            yield (
                i,
                (
                    f"set_working_directory names the absolute folder {directory!r}: it exists "
                    "only where the manifest was written; use a path relative to the checkout "
                    "or a build step's output"
                ),
            )
