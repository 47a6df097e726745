"""Steps on one stack, each declared once, done once, started early and in parallel.

Asking for a step returns a future: the step starts at once in a thread of its own (after
the steps it needs), and asking again returns the same future. So a session can start
everything its tests will need the moment the server is ready — the local run while the
pool, the worker and the deployment come up, all the triggers together — while each test
still just waits on what it uses, in any order, alone or with others.

A step is a function of `GuideSteps` marked `@step(...)`: the guide's own in
guide_steps.py, the contract's cases beyond the guide in contract_steps.py. Its name is
its fixture's name, and the pytest layer makes every fixture (and starts steps early) from
`STEPS` alone.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterable, Iterator, Sized
from concurrent.futures import Future, ThreadPoolExecutor, wait
from contextlib import ExitStack
from dataclasses import dataclass
from functools import partial
from typing import Any, Generic, TypeVar, cast

from blueprint_harness.guide.names import names_for
from blueprint_harness.manifest.check import ManifestCheck
from blueprint_harness.stack.sandbox import Sandbox
from blueprint_harness.stack.stack import AnyStack, sandbox_cli

T = TypeVar("T")


class Deferred(Generic[T]):
    """A finished step whose outcome is raised where a test uses it.

    A step the blueprint breaks (a manifest `prefect deploy` refuses, a flow that cannot
    run) then fails each test that needs it, in the test, with the step's own message: a
    failure of the blueprint, not a set-up error of the harness.
    """

    def __init__(self, future: Future[T]) -> None:
        wait([future])  # the step is over (the tests after it rely on that), however it ended
        self._future = future

    def result(self) -> T:
        return self._future.result()

    def __getattr__(self, name: str) -> Any:
        return getattr(self.result(), name)

    def __getitem__(self, key: Any) -> Any:
        return cast(Any, self.result())[key]

    def __iter__(self) -> Iterator[Any]:
        return iter(cast(Iterable[Any], self.result()))

    def __len__(self) -> int:
        return len(cast(Sized, self.result()))


def deferred(call: Callable[[], T]) -> Deferred[T]:
    """`call`'s outcome, raised where a test uses it (for a fixture built on a step: a step
    the blueprint broke then fails the test, as a failure, instead of its set-up)."""
    future: Future[T] = Future()
    try:
        future.set_result(call())
    except Exception as error:
        future.set_exception(error)
    return Deferred(future)


@dataclass(frozen=True)
class Step:
    """A guide step as declared: its fixture's name and text, how its outcome reaches a
    test (deferred: raised in the test that uses it, a failure of the blueprint), whether
    it needs the server (those that do not run while it starts), and whether its tests
    wait on flow runs (they go last in their phase: the others need not wait behind them)."""

    name: str
    doc: str
    deferred: bool
    start: Callable[[GuideSteps], Future[Any]]
    needs_server: bool = True
    waits_on_runs: bool = False


STEPS: dict[str, Step] = {}


class StackUnavailable(RuntimeError):
    """The stack a step needs did not start."""


def step(
    name: str,
    *,
    deferred: bool = True,
    timing: str | None = None,
    needs_server: bool = True,
    waits_on_runs: bool = False,
) -> Callable[[Callable[[GuideSteps], T]], Callable[[GuideSteps], Future[T]]]:
    """Declare a function of `GuideSteps` as the step `name`, done at most once per stack
    in a thread of its own (timed as `timing`, if given)."""

    def declare(method: Callable[[GuideSteps], T]) -> Callable[[GuideSteps], Future[T]]:
        def run(steps: GuideSteps) -> T:
            if timing is None:
                return method(steps)
            with steps.stack.timings.measure(timing):
                return method(steps)

        def start(steps: GuideSteps) -> Future[T]:
            return steps._once(name, partial(run, steps))

        start.__doc__ = method.__doc__
        doc = (method.__doc__ or name).strip()
        STEPS[name] = Step(name, doc, deferred, start, needs_server, waits_on_runs)
        return start

    return declare


class GuideSteps:
    """The steps' state on one sandbox's stack: their futures, threads and processes.

    Made with the sandbox, before its server is up: the steps that need no server (the
    guide's Terminal A set-up) run while it starts; the others wait until the stack is
    attached (or fail with why it could not start)."""

    def __init__(
        self,
        sandbox: Sandbox,
        checked: ManifestCheck | None = None,
    ) -> None:
        self.sandbox = sandbox
        self.checked = checked  # the pre-deploy check, if the session has done it
        self.cli = sandbox_cli(sandbox)
        self._stack: Future[AnyStack] = Future()
        # A thread per step: a step may block on another, which must never wait for a slot.
        self._threads = ThreadPoolExecutor(len(STEPS), thread_name_prefix="guide-step")
        self._futures: dict[str, Future[Any]] = {}
        self._lock = threading.Lock()
        self.processes = ExitStack()  # the workers, stopped when the steps are closed
        self.names = names_for(sandbox)
        self.requested: set[str] = set()  # the steps the session's tests will ask for

    @classmethod
    def on(cls, stack: AnyStack) -> GuideSteps:
        """The steps on a stack already up."""
        steps = cls(stack.sandbox)
        steps.attach(stack)
        return steps

    @property
    def stack(self) -> AnyStack:
        """The stack, once its server is up (a step that needs it waits here)."""
        return self._stack.result()

    def attach(self, stack: AnyStack) -> None:
        """The server is up: the steps that need it may go on."""
        self._stack.set_result(stack)

    def no_stack(self, error: BaseException) -> None:
        """The server did not start: the steps waiting for it fail, saying why."""
        self._stack.set_exception(StackUnavailable(f"the stack did not start: {error!r}"))

    def _once(self, name: str, run: Callable[[], T]) -> Future[T]:
        with self._lock:
            if name not in self._futures:
                self._futures[name] = self._threads.submit(run)
            return self._futures[name]

    def started(self, name: str) -> Future[Any] | None:
        """The future of step `name` if it was asked for (now or at the start)."""
        if name in self.requested:
            return STEPS[name].start(self)
        return self._futures.get(name)

    def start(self, names: Iterable[str], *, needs_server: bool) -> None:
        """Start the named steps that need the server (or those that do not)."""
        names = set(names)
        self.requested |= names & set(STEPS)
        for name in names:
            if name in STEPS and STEPS[name].needs_server == needs_server:
                STEPS[name].start(self)

    def close(self) -> None:
        """Let started steps finish (their errors were reported to whoever waited on
        them), then stop the worker."""
        wait(list(self._futures.values()))
        self._threads.shutdown(wait=True)
        self.processes.close()


# The steps register themselves in STEPS as their modules load.
import blueprint_harness.guide.contract_steps  # noqa: E402
import blueprint_harness.guide.guide_steps  # noqa: E402, F401
