"""Reading and writing the deployment manifest (prefect.yaml) as a file.

Only for what behaviour cannot show: `prefect deploy --name X` deploys the manifest's
single entry under the name X even when the entry is called something else, so the API
alone cannot tell that the manifest still declares the guide's deployment.
"""

from __future__ import annotations

import copy
import posixpath
from collections.abc import Callable
from pathlib import Path
from typing import Any

import yaml

MANIFEST = "prefect.yaml"
Document = dict[str, Any]


def same_entrypoint(found: str | None, wanted: str) -> bool:
    """Whether two entrypoints (`path:function`) name the same function of the same file,
    however the path is written (`./flows/x.py`, `flows//x.py`)."""
    if not found or ":" not in found:
        return False
    path, _, function = found.rpartition(":")
    wanted_path, _, wanted_function = wanted.rpartition(":")
    return (posixpath.normpath(path), function) == (
        posixpath.normpath(wanted_path),
        wanted_function,
    )


def same_flow_file(found: str | None, wanted: str) -> bool:
    """Whether an entrypoint (`path:function`) is in the file `wanted` (`path` or
    `path:function`), however the path is written: the function's Python name is the
    blueprint's own business, the flow it holds is judged by its Prefect name."""
    if not found or ":" not in found:
        return False
    return posixpath.normpath(found.rpartition(":")[0]) == posixpath.normpath(
        wanted.rpartition(":")[0] or wanted
    )


def guide_entrypoint(project_dir: Path, deployment: str) -> str:
    """The entrypoint the manifest declares for `deployment` (where the flow is)."""
    return str(entry(read_manifest(project_dir / MANIFEST), deployment)["entrypoint"])


def read_manifest(path: Path) -> Document:
    """The manifest at `path` as a document (a YAML error propagates)."""
    document = yaml.safe_load(path.read_text()) or {}
    if not isinstance(document, dict):
        raise ValueError(f"{path}: the manifest is not a mapping")
    return document


def write_manifest(path: Path, document: Document) -> Path:
    path.write_text(yaml.safe_dump(document, sort_keys=False))
    return path


def declared_deployments(project_dir: Path) -> list[dict[str, Any]]:
    """The `deployments:` entries of the project's prefect.yaml."""
    return list(read_manifest(project_dir / MANIFEST).get("deployments") or [])


def rewrite_manifest(project_dir: Path, change: Callable[[Document], None]) -> Document:
    """Change the project's prefect.yaml in place, as a person edits it; the new document."""
    path = project_dir / MANIFEST
    document = read_manifest(path)
    change(document)
    write_manifest(path, document)
    return document


def entry(document: Document, name: str) -> dict[str, Any]:
    """The deployment entry called `name` (KeyError naming what is declared)."""
    for declared in document.get("deployments") or []:
        if declared.get("name") == name:
            return dict(declared)
    names = [d.get("name") for d in document.get("deployments") or []]
    raise KeyError(f"the manifest declares no deployment {name!r} (it declares {names})")


def renamed_manifest(project_dir: Path, target: Path, name: str, new_name: str, pool: str) -> Path:
    """A manifest at `target` declaring only the entry `name` of the project's, renamed
    `new_name` on `pool`: how a session deploys the blueprint under names of its own
    whatever else the manifest declares (`prefect deploy --name X` renames only a manifest's
    single entry)."""
    document = copy.deepcopy(read_manifest(project_dir / MANIFEST))
    declared = entry(document, name)
    declared["name"] = new_name
    declared["work_pool"] = {**(declared.get("work_pool") or {}), "name": pool}
    document["deployments"] = [declared]
    return write_manifest(target, document)
