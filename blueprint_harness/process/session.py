"""A session that leaves nothing behind, whoever runs it: a pytest session, `blueprint up`,
a benchmark. One context manager; the pytest layer enters it when pytest configures.

- SIGTERM (CI cancellations) and SIGHUP (a closed terminal) become KeyboardInterrupt, so
  every context manager unwinds, as for Ctrl-C; a SIGINT inherited ignored (a shell's
  background job) is restored, so Ctrl-C and `kill -INT` still stop everything.
- Orphaned descendants are re-parented to the session (a subreaper) and reaped on exit.
- SIGKILL runs nothing: the session's watchdog (watchdog.py) stops what it left, and every
  session first stops what sessions that are gone left behind.
"""

from __future__ import annotations

import signal
from collections.abc import Iterator
from contextlib import contextmanager
from types import FrameType

from blueprint_harness.process import janitor
from blueprint_harness.process.watchdog import Watch, watched_session

UNWINDING_SIGNALS = (signal.SIGTERM, signal.SIGHUP)


def _interrupt(signum: int, frame: FrameType | None) -> None:
    # Python dies on SIGTERM or SIGHUP without unwinding; as KeyboardInterrupt, every
    # teardown still runs.
    raise KeyboardInterrupt(f"received signal {signal.Signals(signum).name}")


@contextmanager
def owned_session() -> Iterator[Watch]:
    """Make every way of ending this process unwind, become the subreaper of what it
    starts, and watch it with a watchdog; on the way out, reap what it inherited."""
    for sig in UNWINDING_SIGNALS:
        signal.signal(sig, _interrupt)
    if signal.getsignal(signal.SIGINT) is signal.SIG_IGN:
        signal.signal(signal.SIGINT, signal.default_int_handler)
    janitor.become_subreaper()
    try:
        with watched_session() as watch:
            yield watch
    finally:
        # Every Popen of the session has been waited for: whatever finished child is left
        # is an orphan re-parented here and must not linger as a zombie.
        janitor.reap_zombie_children()
