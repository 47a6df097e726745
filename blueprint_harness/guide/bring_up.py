"""The guide's Phase 2 on a stack: the work pool (2.1), its workers (2.3), the deployment
(2.4), each with the guide's command and noted in the stack's ledger.

`blueprint up`, the load benchmark and the test groups that need a deployed stack of
their own take them in order with `phase_two`; the main stack's steps (steps.py) take the
same functions apart, each as soon as it can start.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from blueprint_harness.guide import commands as guide
from blueprint_harness.guide import expectations
from blueprint_harness.guide.names import GuideNames, names_for
from blueprint_harness.stack.stack import AnyStack, running_stack_workers
from blueprint_harness.stack.worker import WorkerFleet


def work_pool(stack: AnyStack, names: GuideNames) -> guide.PoolCreated:
    """Step 2.1: `prefect work-pool create "local-process-pool" --type process`."""
    result = guide.create_work_pool(stack.cli, names)
    stack.ledger.made_pool(stack.api, names.pool)
    return guide.PoolCreated(result, stack.api.work_pool(names.pool))


def deployment(stack: AnyStack, names: GuideNames, scratch: Path | None = None) -> guide.Deployed:
    """Step 2.4: `prefect deploy --name production-etl --no-prompt` from the project."""
    created_at = datetime.now(UTC)
    result = guide.deploy(stack.cli, names, scratch=scratch or stack.sandbox.root)
    found = stack.api.deployment(expectations.FLOW_NAME, names.deployment)
    stack.ledger.made_deployment(found.id)
    return guide.Deployed(result, found, created_at)


@dataclass(frozen=True)
class PhaseTwo:
    """A stack's pool, its polling workers and (if asked for) the deployment."""

    pool: guide.PoolCreated
    workers: WorkerFleet
    deployed: guide.Deployed | None


@contextmanager
def phase_two(
    stack: AnyStack, names: GuideNames | None = None, *, deploy: bool = True
) -> Iterator[PhaseTwo]:
    """Phase 2 in the guide's order, the workers kept running inside the block."""
    names = names or names_for(stack.sandbox)
    pool = work_pool(stack, names)
    with running_stack_workers(stack, pool.name) as fleet:
        yield PhaseTwo(pool, fleet, deployment(stack, names) if deploy else None)
