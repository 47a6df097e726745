"""A checkout of the project deployed onto a live server, as a team's CI job does it
again and again: deploy (one deployment or `--all`), edit the manifest, redeploy, and
read the upcoming runs each schedule should have made, slot by slot."""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from blueprint_harness.backends.warehouses import Warehouse
from blueprint_harness.guide import commands as guide
from blueprint_harness.guide import expectations
from blueprint_harness.guide.names import names_for
from blueprint_harness.guide.schedules import cron_firings
from blueprint_harness.manifest.check import check_manifest, pool_problems
from blueprint_harness.manifest.declared import (
    MANIFEST,
    Document,
    read_manifest,
    rewrite_manifest,
)
from blueprint_harness.manifest.problems import ManifestProblems
from blueprint_harness.manifest.variants import Edit
from blueprint_harness.stack.models import Deployment, FlowRun
from blueprint_harness.stack.stack import AnyStack

# A redeploy deletes the upcoming runs and the scheduler makes them anew: watch this long
# for a second run in a slot (the scheduler's loop after a deploy is seconds here).
QUIET_SECONDS = 6.0


@dataclass(frozen=True)
class Slots:
    """A deployment's upcoming auto-scheduled runs against the firings its schedule
    should give, as Prefect's parser computes them."""

    runs: tuple[FlowRun, ...]
    expected: tuple[datetime, ...]

    @property
    def times(self) -> list[datetime]:
        return sorted(run.expected_start_time for run in self.runs if run.expected_start_time)

    @property
    def doubled(self) -> dict[datetime, int]:
        return {t: n for t, n in Counter(self.times).items() if n > 1}

    @property
    def as_expected(self) -> bool:
        return (
            not self.doubled
            and self.times == list(self.expected[: len(self.times)])
            and len(self.times) >= 1
        )

    def describe(self) -> str:
        return (
            f"{len(self.runs)} upcoming runs at {[t.isoformat() for t in self.times]}; "
            f"expected the schedule's firings {[t.isoformat() for t in self.expected[:5]]}...; "
            f"doubled slots: {self.doubled or 'none'}"
        )


def upcoming_firings(
    schedule: Mapping[str, Any], after: datetime, count: int = 200
) -> tuple[datetime, ...]:
    """The first `count` firings of a manifest schedule (cron) after `after`."""
    return tuple(cron_firings(schedule["cron"], schedule.get("timezone") or "UTC", count, after))


class Checkout:
    """The project at another path, deploying to `stack` under the session's ledger."""

    def __init__(self, stack: AnyStack, folder: Path) -> None:
        self.stack = stack
        self.folder = guide.copy_project(stack.sandbox.project_dir, folder)
        self.cli = guide.cli_in(stack.cli, self.folder)
        self.deployed_at = datetime.now(UTC)

    @property
    def warehouse(self) -> Warehouse:
        """Where this checkout's runs load (the stack's: its Variable names it)."""
        assert self.stack.sandbox.warehouse is not None, "a stack of our own has a warehouse"
        return self.stack.sandbox.warehouse

    @property
    def manifest(self) -> Document:
        return read_manifest(self.folder / MANIFEST)

    def edit(self, change: Edit) -> Document:
        return rewrite_manifest(self.folder, change)

    def checked(self, settings: Mapping[str, str]) -> None:
        """The pre-deploy check, and the pools the deployments name on this server."""
        problems = list(check_manifest(self.folder, env={**self.cli.env, **settings}).problems)
        pools = {pool["name"] for pool in self.stack.api.every("work_pools/filter")}
        problems += pool_problems(self.folder, pools)
        if problems:
            raise ManifestProblems(problems)

    def deploy(
        self, *names: str, settings: Mapping[str, str] | None = None, check: bool = True
    ) -> None:
        """`prefect deploy --name N ... --no-prompt` (every deployment: `--all`) with extra
        Prefect `settings`, after the pre-deploy check (unless `check` is false: to see
        what Prefect itself does with a manifest the check refuses)."""
        if check:
            self.checked(settings or {})
        chosen = [arg for name in names for arg in ("--name", name)] or ["--all"]
        self.deployed_at = datetime.now(UTC)
        env = {**self.cli.env, **(settings or {})}
        self.cli.prefect("deploy", *chosen, "--no-prompt", env=env)
        for name in names or [d["name"] for d in self.manifest["deployments"]]:
            self.stack.ledger.made_deployment(self.deployment(name).id)

    def deployment(self, name: str) -> Deployment:
        return self.stack.api.deployment(expectations.FLOW_NAME, name)

    def declared(self, name: str) -> dict[str, Any]:
        return next(d for d in self.manifest["deployments"] if d["name"] == name)

    def _declared_schedule(self, name: str) -> Mapping[str, Any] | None:
        schedules = self.declared(name).get("schedules") or []
        return dict(schedules[0]) if schedules else None

    def _slots(self, deployment_id: str, schedule: Mapping[str, Any] | None) -> Slots:
        expected = upcoming_firings(schedule, self.deployed_at) if schedule else ()
        return Slots(tuple(self.stack.runs.auto_scheduled(deployment_id)), expected)

    def wait_slots(
        self, name: str, quiet: bool = True, schedule: Mapping[str, Any] | None = None
    ) -> Slots:
        """Wait until the scheduler has made the deployment's upcoming runs at its declared
        firings (at least three, Prefect's minimum), then (`quiet`) watch a while for
        doubles (a doubled slot stays: one watch after several deploys sees them all)."""
        declared = self._declared_schedule(name)
        schedule = schedule or declared
        wanted = expectations.SCHEDULER_MIN_RUNS if declared else 0
        deployment_id = self.deployment(name).id

        def now() -> Slots:
            return self._slots(deployment_id, schedule)

        slots = self.stack.monitor.wait_for(
            now,
            lambda s: len(s.runs) >= wanted and (s.as_expected or not wanted),
            timeout=self.stack.runs.timeout,
            expected=f"{name}'s upcoming runs at its declared firings, each slot once",
            describe=Slots.describe,
            interval=1.0,
        )
        seen = self.stack.monitor.observe(now, QUIET_SECONDS) if quiet else []
        return max([slots, *seen], key=lambda s: (len(s.doubled), len(s.runs) if not wanted else 0))

    def run_default(self, name: str) -> guide.TriggeredRun:
        """`prefect deployment run 'Enterprise Data Pipeline/<name>'`, tracked."""
        default = expectations.TRIGGERS_BY_KEY["default"]
        names = replace(names_for(self.stack.sandbox), deployment_name=name)
        run = guide.trigger(self.cli, default, names, self.stack.ledger.made_flow_run)
        self.stack.runs.track(run.flow_run_id, f"{name}-default", run.triggered_at, run.cli.command)
        return run


def history(runs: Sequence[FlowRun]) -> dict[str, tuple[str | None, dict[str, Any]]]:
    """Each finished run's final state and parameters, by id: what a redeploy must keep."""
    return {run.id: (run.state_name, run.parameters) for run in runs if run.is_terminal}
