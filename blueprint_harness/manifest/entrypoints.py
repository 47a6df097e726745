"""Each deployment's entrypoint imported in a fresh process, as a worker's flow-run
process imports it, with its default parameters validated against the flow: bounded in
time and proven free of side effects on the project's files."""

from __future__ import annotations

import json
import os
import posixpath
import subprocess
import sys
import tempfile
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

PROBE = Path(__file__).with_name("entrypoint_probe.py")
# Generous: an import of Prefect and the flow takes ~3 s here, ~10 s on a loaded machine.
IMPORT_BOUND_SECONDS = 60.0
# Port 9 (discard): an import that calls the API fails at once instead of reaching a server.
NOWHERE_API_URL = "http://127.0.0.1:9/api"
_IMPORTED: dict[tuple[str, str, frozenset[tuple[str, tuple[int, int]]]], Imported] = {}


@dataclass(frozen=True)
class Imported:
    """What the fresh process found: problems as (deployment, field, message), and the
    flow name of each entrypoint that imported."""

    problems: list[tuple[str, str, str]]
    flows: dict[str, str]


def _files(root: Path, folders: Sequence[str]) -> dict[str, tuple[int, int]]:
    """What an import could write to unnoticed: the files of the entrypoints' folders (bytecode
    caches aside) and the project's top-level files (the process's working directory), each
    with its size and modification time. Hidden files, the venv and the logs of a session
    running meanwhile are not the flow's."""
    paths = [p for p in root.iterdir() if p.is_file() and not p.name.startswith(".")]
    for folder in {root / f for f in folders if f not in ("", ".")}:
        if folder.is_dir():
            paths += [p for p in folder.rglob("*") if p.is_file() and "__pycache__" not in p.parts]
    return {str(p.relative_to(root)): (p.stat().st_size, p.stat().st_mtime_ns) for p in paths}


def _folders(items: Sequence[Mapping[str, Any]]) -> list[str]:
    return [posixpath.dirname(str(item["entrypoint"]).rpartition(":")[0]) for item in items]


def _changes(before: Mapping[str, Any], after: Mapping[str, Any]) -> list[str]:
    return sorted(
        name for name in before.keys() | after.keys() if before.get(name) != after.get(name)
    )


def import_entrypoints(
    project_dir: Path, items: Sequence[Mapping[str, Any]], bound: float = IMPORT_BOUND_SECONDS
) -> Imported:
    """Run the probe on `items` ({deployment, entrypoint, parameters}) from `project_dir`."""
    if not items:
        return Imported([], {})
    before = _files(project_dir, _folders(items))
    # The main job checks the same files twice (its manifest test, the deploy step): once.
    key = (
        str(project_dir.resolve()),
        json.dumps(list(items), sort_keys=True),
        frozenset(before.items()),
    )
    if key not in _IMPORTED:
        _IMPORTED[key] = _import(project_dir, items, bound, before)
    return _IMPORTED[key]


def _import(
    project_dir: Path,
    items: Sequence[Mapping[str, Any]],
    bound: float,
    before: dict[str, tuple[int, int]],
) -> Imported:
    with tempfile.TemporaryDirectory(prefix="manifest-check-") as home:
        env = {
            **os.environ,
            "PREFECT_HOME": home,
            "PREFECT_API_URL": NOWHERE_API_URL,
            "PREFECT_PROFILES_PATH": str(Path(home) / "profiles.toml"),
            "PYTHONDONTWRITEBYTECODE": "1",
        }
        try:
            done = subprocess.run(
                [sys.executable, str(PROBE), json.dumps(list(items))],
                cwd=project_dir,
                env=env,
                capture_output=True,
                text=True,
                timeout=bound,
                check=False,
            )
        except subprocess.TimeoutExpired:
            names = ", ".join(sorted({str(item["entrypoint"]) for item in items}))
            return Imported(
                [("", "entrypoint", f"importing {names} took more than {bound:.0f} s")], {}
            )
    lines = done.stdout.strip().splitlines()
    if done.returncode != 0 or not lines:
        tail = "\n".join(done.stderr.strip().splitlines()[-15:])
        return Imported([("", "entrypoint", f"the import check itself failed:\n{tail}")], {})
    found = json.loads(lines[-1])
    problems = [(p["deployment"], p["field"], p["message"]) for p in found["problems"]]
    changed = _changes(before, _files(project_dir, _folders(items)))
    if changed:
        problems.append(("", "entrypoint", f"importing the flows changed files: {changed}"))
    return Imported(problems, dict(found["flows"]))
