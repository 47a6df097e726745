"""A watchdog that outlives its session: when the session dies, however it dies, the
watchdog stops everything the session started.

A session killed outright (SIGKILL, as CI runners do past their grace period, or the
OOM killer) runs no teardown, and its servers and workers sit in process groups of their
own, out of reach of any signal sent to it. So each session starts one watchdog in a new
session of its own, holding the read end of a pipe whose write end only the session
holds. The pipe reads end-of-file the moment the session is gone, whether it exited or
was killed; the watchdog then stops every process carrying the session's owner tag
(see janitor.py) and removes its owned folder. After a clean teardown it finds nothing.

    python -m blueprint_harness.process.watchdog <owner tag>     (stdin: the pipe)
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

from blueprint_harness.process import janitor

WATCHDOG = "BLUEPRINT_HARNESS_WATCHDOG"
STOP_SECONDS = 10.0


@dataclass(frozen=True)
class Watch:
    """This session's owner tag, and what sessions that are gone had left running."""

    tag: str
    stopped_leftovers: list[str]


@contextmanager
def watched_session() -> Iterator[Watch]:
    """Be a session that leaves nothing behind: first stop what sessions that are gone
    left, then start this session's watchdog."""
    stopped = janitor.stop_orphaned_sessions(STOP_SECONDS)
    tag = janitor.owner_tag()
    env = {k: v for k, v in os.environ.items() if k != janitor.OWNER}
    dog = subprocess.Popen(
        [sys.executable, "-m", "blueprint_harness.process.watchdog", tag],
        stdin=subprocess.PIPE,
        env={**env, WATCHDOG: tag},
        start_new_session=True,  # a Ctrl-C to the session's group must not reach it
    )
    try:
        yield Watch(tag, stopped)
    finally:
        assert dog.stdin is not None
        dog.stdin.close()  # what the watchdog waits for; then it finds nothing to stop
        with contextlib.suppress(subprocess.TimeoutExpired):
            dog.wait(timeout=STOP_SECONDS * 3)


def main(tag: str) -> int:
    for sig in (signal.SIGINT, signal.SIGHUP, signal.SIGTERM):
        signal.signal(sig, signal.SIG_IGN)  # only the pipe ends the watch
    with contextlib.suppress(OSError):
        sys.stdin.buffer.read()  # blocks until the session is gone
    janitor.stop(janitor.owned_by(tag), STOP_SECONDS)
    shutil.rmtree(janitor.owned_folder(tag), ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1]))
