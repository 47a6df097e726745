"""The previous Prefect minor, in a venv of its own: for upgrades in place and version skew.

Installed with its dependencies as they were when it was released (`uv --exclude-newer`):
today's FastAPI and SQLAlchemy break it (its server fails to start, or its scheduler
creates no runs), as they would break any team that installs it unpinned today.
"""

from __future__ import annotations

import fcntl
import shutil
import subprocess
import sys
from pathlib import Path

from blueprint_harness import cache
from blueprint_harness.stack.sandbox import venv_bin

PREVIOUS_VERSION = "3.8.8"
PREVIOUS_ERA = "2026-10-07T00:00:00Z"  # the day after 3.8.8 was published (2026-10-06)
# SQLAlchemy 2.1 came out before 3.8.8 and 3.8 does not run on it: its scheduler's bulk
# insert fails ("Can't evaluate bulk DML statement") and no run is ever scheduled.
PREVIOUS_PINS = ("sqlalchemy[asyncio]<2.1",)
INSTALL_TIMEOUT_SECONDS = 600.0


class PreviousPrefectUnavailable(RuntimeError):
    """The previous Prefect could not be installed (the message says what failed)."""


def previous_prefect(timeout: float = INSTALL_TIMEOUT_SECONDS) -> Path:
    """The bin folder of a venv holding Prefect PREVIOUS_VERSION on this Python, built once
    (under a lock: several sessions may ask at once) and kept in the harness's cache."""
    cache_dir = cache.cache_dir("previous-prefect")
    python = f"py{sys.version_info.major}{sys.version_info.minor}"
    target = cache_dir / f"prefect-{PREVIOUS_VERSION}-{python}-{len(PREVIOUS_PINS)}pins"
    done = target / ".complete"
    cache_dir.mkdir(parents=True, exist_ok=True)
    with (cache_dir / ".lock").open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if not done.exists():
            shutil.rmtree(target, ignore_errors=True)
            uv = str(venv_bin() / "uv")
            _run([uv, "venv", "--quiet", str(target), "--python", sys.executable], timeout)
            _run(
                [
                    uv, "pip", "install", "--quiet", "--python", str(target / "bin" / "python"),
                    f"prefect=={PREVIOUS_VERSION}", "psycopg[binary]", *PREVIOUS_PINS,
                    "--exclude-newer", PREVIOUS_ERA,
                ],
                timeout,
            )  # fmt: skip
            done.touch()
    return target / "bin"


def _run(args: list[str], timeout: float) -> None:
    try:
        done = subprocess.run(args, capture_output=True, text=True, timeout=timeout, check=False)
    except (OSError, subprocess.TimeoutExpired) as error:
        raise PreviousPrefectUnavailable(f"{' '.join(args)}: {error}") from None
    if done.returncode != 0:
        raise PreviousPrefectUnavailable(
            f"{' '.join(args)} exited {done.returncode}:\n{done.stderr[-2000:]}"
        )
