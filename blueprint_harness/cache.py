"""The one folder the harness keeps across sessions: SQLite's migrated templates (one file
per Prefect version) and the previous Prefect minor's venv. Nothing in it is a user's
setting; removing it only costs the next session the time to build it again."""

from __future__ import annotations

import os
from pathlib import Path

CACHE_VARIABLE = "BLUEPRINT_CACHE_DIR"


def cache_root() -> Path:
    """$BLUEPRINT_CACHE_DIR, else prefect-blueprint/ in the user's cache folder
    ($XDG_CACHE_HOME, else ~/.cache)."""
    chosen = os.environ.get(CACHE_VARIABLE)
    if chosen:
        return Path(chosen)
    base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(base) / "prefect-blueprint"


def cache_dir(name: str) -> Path:
    """The cache's folder `name`, made if missing."""
    folder = cache_root() / name
    folder.mkdir(parents=True, exist_ok=True)
    return folder
