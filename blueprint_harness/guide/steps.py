"""The guide's steps on one stack, each declared once, done once, started early and in
parallel.

Asking for a step returns a future: the step starts at once in a thread of its own (after
the steps it needs), and asking again returns the same future. So a session can start
everything its tests will need the moment the server is ready — the local run while the
pool, the worker and the deployment come up, all the triggers together — while each test
still just waits on what it uses, in any order, alone or with others.

A step is a `GuideSteps` method marked `@step(...)`: its name is its fixture's name, and
the pytest layer makes every fixture (and starts steps early) from `STEPS` alone.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence, Sized
from concurrent.futures import Future, ThreadPoolExecutor, wait
from contextlib import ExitStack
from dataclasses import dataclass, replace
from functools import partial
from typing import Any, Generic, TypeVar, cast

from blueprint_harness.guide import bring_up, expectations
from blueprint_harness.guide import commands as guide
from blueprint_harness.guide.names import names_for
from blueprint_harness.manifest.check import ManifestCheck, check_manifest
from blueprint_harness.manifest.declared import rewrite_manifest
from blueprint_harness.manifest.problems import ManifestProblems
from blueprint_harness.manifest.variants import add_second_deployment
from blueprint_harness.stack import timings
from blueprint_harness.stack.cli import CliResult
from blueprint_harness.stack.results import persisted_results
from blueprint_harness.stack.sandbox import Sandbox
from blueprint_harness.stack.stack import AnyStack, running_stack_workers, sandbox_cli
from blueprint_harness.stack.worker import WorkerFleet

T = TypeVar("T")
# Four `prefect deployment run` at the same instant collide on SQLite's write lock; the
# losers get HTTP 503 and the CLI backs off 2 s, 4 s, 8 s. Starting them a second apart
# (each spends ~1.5 s importing before it calls the API) keeps their writes apart.
TRIGGER_SPACING_SECONDS = 1.0


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


def _after(delay: float, call: Callable[[], T]) -> Callable[[], T]:
    def delayed() -> T:
        time.sleep(delay)
        return call()

    return delayed


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
    """Declare a `GuideSteps` method as the step `name`, done at most once per stack in a
    thread of its own (timed as `timing`, if given)."""

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
    """Steps 1.3-1.7, 2.1, 2.3, 2.4 and 3.1-3.5 of the guide on a sandbox's stack.

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
        self._processes = ExitStack()  # the worker, stopped when the steps are closed
        self.names = names_for(sandbox)

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

    @step("installed_version", needs_server=False)
    def installed_version(self) -> CliResult:
        """Step 1.3: `prefect version`, once (what it prints cannot change in a session)."""
        return guide.prefect_version(self.cli)

    @step("api_url_configured", needs_server=False)
    def api_url_configured(self) -> guide.ApiUrlConfigured:
        """Steps 1.5 and 1.6: `prefect config set PREFECT_API_URL=...` in the session's own
        profile, then `prefect config view` without the session's own setting of it. After
        `prefect version`: nothing else reads the profile while it is rewritten."""
        self.installed_version().result()
        return guide.configure_api_url(self.cli, self.sandbox.api_url)

    @step("local_run", timing=timings.LOCAL_RUN)
    def local_run(self) -> guide.LocalRun:
        """Step 1.7: the flow run once locally against the stack's server
        (`python flows/data_pipeline.py`)."""
        run = guide.run_flow_locally(self.stack.cli, on_created=self.stack.ledger.made_flow_run)
        self.stack.runs.track(run.flow_run_id, "local-run", run.started_at, run.cli.command)
        return run

    @step("work_pool", deferred=False, timing=timings.WORK_POOL)
    def work_pool(self) -> guide.PoolCreated:
        """Step 2.1: the process work pool, created with the guide's command
        (`prefect work-pool create "local-process-pool" --type process`)."""
        return bring_up.work_pool(self.stack, self.names)

    @step("prefect_workers", deferred=False)
    def workers(self) -> WorkerFleet:
        """Step 2.3: the process worker(s), polling the pool (Terminal C:
        `prefect worker start --pool "local-process-pool"`), kept running."""
        pool = self.work_pool().result().name
        return self._processes.enter_context(running_stack_workers(self.stack, pool))

    @step("manifest_checked", deferred=False, needs_server=False)
    def manifest_checked(self) -> ManifestCheck:
        """The pre-deploy check of the manifest (`blueprint check`), before the deploy
        (once a session: the one it did already, if it checked this project)."""
        if self.checked is not None and self.checked.manifest.parent == self.sandbox.project_dir:
            return self.checked
        return check_manifest(self.sandbox.project_dir)

    def _ready_to_deploy(self) -> None:
        """Wait for the pool and the pre-deploy check; a manifest that fails the check fails
        the deploy there (its mistakes then fail the deploy's tests in seconds, named)."""
        pool = self.work_pool()  # made meanwhile
        checked = self.manifest_checked().result()
        if not checked.ok:
            raise ManifestProblems(checked.problems)
        pool.result()

    @step("deployment")
    def deployment(self) -> guide.Deployed:
        """Step 2.4: the deployment registered from prefect.yaml with the guide's command
        (`prefect deploy --name production-etl --no-prompt`), once the manifest passed the
        pre-deploy check (its mistakes then fail the deploy's tests in seconds, named)."""
        self._ready_to_deploy()
        with self.stack.timings.measure(timings.DEPLOY):
            return bring_up.deployment(self.stack, self.names)

    def _trigger(self, triggers: Sequence[expectations.Trigger]) -> list[guide.TriggeredRun]:
        """Trigger each of `triggers` with the guide's command, a second apart."""
        cli = self.stack.cli
        made = self.stack.ledger.made_flow_run
        runs = cli.concurrently(
            [
                _after(
                    i * TRIGGER_SPACING_SECONDS,
                    partial(guide.trigger, cli, trigger, self.names, made),
                )
                for i, trigger in enumerate(triggers)
            ]
        )
        for run in runs:
            self.stack.runs.track(
                run.flow_run_id, run.trigger.key, run.triggered_at, run.cli.command
            )
        return runs

    @step("failing_runs_begun", waits_on_runs=True)
    def failing_runs_begun(self) -> Mapping[str, guide.TriggeredRun]:
        """Step 3.5 (and the contract's failing table) triggered first, once the deployment
        and the workers are up; done once their runs have begun. The longest runs (three
        2 s retries each): their waits then overlap the other runs' work instead of
        following it."""
        self.deployment().result()
        self.workers().result()
        runs = self._trigger(expectations.FAILING_TRIGGERS)
        for run in runs:
            self.stack.runs.wait_under_way(run.flow_run_id)
        return {run.trigger.key: run for run in runs}

    @step("triggered_runs", waits_on_runs=True)
    def triggered_runs(self) -> Mapping[str, guide.TriggeredRun]:
        """Steps 3.1 and 3.3-3.5 (and the contract's failing table): the failing runs
        first, the others once those have begun (none depends on another)."""
        failing = self.failing_runs_begun().result()
        others = [t for t in expectations.ALL_TRIGGERS if t.key not in failing]
        runs = {**failing, **{run.trigger.key: run for run in self._trigger(others)}}
        return {trigger.key: runs[trigger.key] for trigger in expectations.ALL_TRIGGERS}

    @step("run_from_another_checkout", waits_on_runs=True)
    def run_from_another_checkout(self) -> guide.CheckoutRun:
        """The manifest deployed from another checkout of the project (as a CI job's is),
        its guide entry under another name, and that deployment's default trigger: its
        runs must execute that copy's flow."""
        checkout = guide.copy_project(
            self.sandbox.project_dir, self.sandbox.root / "another-checkout"
        )
        # A team's manifest grows: the copy declares a second deployment too, which the
        # renamed deploy (as in external mode) must leave out.
        rewrite_manifest(checkout, add_second_deployment)
        # Deployed alongside the guide's deployment and triggered alongside its triggers,
        # once the failing runs have begun: done after those, this deploy, trigger and run
        # were the session's last seconds; done before them, they slowed the longest runs.
        self._ready_to_deploy()
        there = guide.cli_in(self.stack.cli, checkout)
        name = guide.deploy_from_checkout(there, self.names, self.stack.sandbox.root)
        ledger = self.stack.ledger
        ledger.made_deployment(self.stack.api.deployment(expectations.FLOW_NAME, name).id)
        self.failing_runs_begun().result()
        elsewhere = replace(self.names, deployment_name=name)
        default = expectations.TRIGGERS_BY_KEY["default"]
        run = guide.trigger(there, default, elsewhere, ledger.made_flow_run)
        self.stack.runs.track(
            run.flow_run_id, "another-checkout", run.triggered_at, run.cli.command
        )
        return guide.CheckoutRun(checkout, run)

    @step("persisted_results", waits_on_runs=True)
    def persisted_results(self) -> dict[str, dict[str, Any]]:
        """The completed runs' results read back in another process through Prefect's
        `state.result()`, as a user debugging yesterday's run would, once they have ended
        (while the failing runs still retry)."""
        runs = self.triggered_runs().result().values()
        ids = [run.flow_run_id for run in runs if run.trigger.final_state == "Completed"]
        self.stack.runs.wait_all_terminal(ids)
        return persisted_results(self.stack.cli, ids)

    @step("flow_runs_listed", waits_on_runs=True)
    def flow_runs_listed(self) -> CliResult:
        """Step 3.2: `prefect flow-run ls`, once every triggered run has ended."""
        runs = self.triggered_runs().result().values()
        self.stack.runs.wait_all_terminal(run.flow_run_id for run in runs)
        return guide.list_flow_runs(self.stack.cli, self.names)

    def start(self, names: Iterable[str], *, needs_server: bool) -> None:
        """Start the named steps that need the server (or those that do not)."""
        for name in names:
            if name in STEPS and STEPS[name].needs_server == needs_server:
                STEPS[name].start(self)

    def close(self) -> None:
        """Let started steps finish (their errors were reported to whoever waited on
        them), then stop the worker."""
        wait(list(self._futures.values()))
        self._threads.shutdown(wait=True)
        self._processes.close()
