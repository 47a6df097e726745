"""Run `prefect ...` and `python ...` as the guide's Terminal A would, in the session's world.

Each command gets the session's environment, the project directory as cwd, a bounded
run time (its whole process group is killed past it) and an entry in the session's
CLI transcript, so a failure can always be read back.
"""

from __future__ import annotations

import contextlib
import os
import shlex
import signal
import subprocess
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

from blueprint_harness.process import accounting
from blueprint_harness.stack.sandbox import venv_bin

DEFAULT_TIMEOUT = 120.0
T = TypeVar("T")


def _kill_group(process: subprocess.Popen[str]) -> None:
    with contextlib.suppress(ProcessLookupError):
        os.killpg(process.pid, signal.SIGKILL)


class CommandFailed(AssertionError):
    """A command exited with a code other than the one expected."""


@dataclass(frozen=True)
class CliResult:
    """What one command did."""

    args: tuple[str, ...]
    returncode: int
    stdout: str
    stderr: str
    seconds: float

    @property
    def output(self) -> str:
        return self.stdout + self.stderr

    @property
    def command(self) -> str:
        return shlex.join(self.args)

    def describe(self) -> str:
        return (
            f"$ {self.command}\n(exit {self.returncode} after {self.seconds:.1f}s)\n"
            f"--- stdout ---\n{self.stdout.rstrip()}\n--- stderr ---\n{self.stderr.rstrip()}"
        )


class PrefectCli:
    """Runs commands in the session environment and records them in a transcript."""

    def __init__(
        self,
        env: Mapping[str, str],
        cwd: Path,
        transcript: Path,
        timeout: float = DEFAULT_TIMEOUT,
        bin_dir: Path | None = None,
    ) -> None:
        self.env = dict(env)
        self.cwd = cwd
        self.transcript = transcript
        self.timeout = timeout
        self.bin_dir = bin_dir or venv_bin()  # whose `prefect` and `python` run
        self._lock = threading.Lock()
        self._running: set[subprocess.Popen[str]] = set()

    def env_without(self, *keys: str) -> dict[str, str]:
        """The session environment minus `keys` (to prove a setting comes from elsewhere)."""
        return {k: v for k, v in self.env.items() if k not in keys}

    def prefect(self, *args: str, expect: int | None = 0, **options: Any) -> CliResult:
        """`prefect <args>` with the venv's prefect, as after `source .venv/bin/activate`."""
        return self.run((str(self.bin_dir / "prefect"), *args), expect=expect, **options)

    def python(self, *args: str, expect: int | None = 0, **options: Any) -> CliResult:
        """`python <args>` with the venv's interpreter."""
        return self.run((str(self.bin_dir / "python"), *args), expect=expect, **options)

    def run(
        self,
        args: tuple[str, ...],
        *,
        expect: int | None = 0,
        env: Mapping[str, str] | None = None,
        timeout: float | None = None,
    ) -> CliResult:
        """Run `args`; if `expect` is not None, fail unless the exit code equals it."""
        timeout = timeout or self.timeout
        started = time.monotonic()
        with subprocess.Popen(
            args,
            cwd=self.cwd,
            env=dict(env) if env is not None else self.env,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            start_new_session=True,  # one group to kill, whatever it spawned
        ) as process:
            self._running.add(process)
            accounting.label(process.pid, accounting.command_kind(args))
            try:
                stdout, stderr = process.communicate(timeout=timeout)
            except subprocess.TimeoutExpired:
                _kill_group(process)
                stdout, stderr = process.communicate()
                stderr += f"\n[harness] killed after the {timeout:g}s command timeout"
            except BaseException:  # Ctrl-C, a test timeout: leave nothing behind
                _kill_group(process)
                raise
            finally:
                self._running.discard(process)
        result = CliResult(
            args=tuple(args),
            returncode=process.returncode,
            stdout=stdout,
            stderr=stderr,
            seconds=time.monotonic() - started,
        )
        self._record(result)
        return self.check(result, expect=expect)

    def check(self, result: CliResult, *, expect: int | None) -> CliResult:
        """`result`, if it exited `expect` (or `expect` is None), else `CommandFailed`."""
        if expect is not None and result.returncode != expect:
            raise CommandFailed(
                f"Expected exit code {expect}, got {result.returncode}.\n{result.describe()}\n"
                f"(transcript: {self.transcript})"
            )
        return result

    def concurrently(self, calls: Sequence[Callable[[], T]]) -> list[T]:
        """Run independent commands at once; if one fails or the run is interrupted,
        kill the others instead of waiting for them."""
        with ThreadPoolExecutor(max_workers=max(1, len(calls))) as pool:
            futures = [pool.submit(call) for call in calls]
            try:
                return [future.result() for future in futures]
            except BaseException:
                self.kill_running()
                raise

    def kill_running(self) -> None:
        """Kill every command still running (from any thread)."""
        for process in list(self._running):
            _kill_group(process)

    def _record(self, result: CliResult) -> None:
        with self._lock, self.transcript.open("a") as handle:
            handle.write(f"{result.describe()}\n\n")
