"""The guide's Terminal A commands, as the guide writes them, and what each one yields."""

from __future__ import annotations

import shutil
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from blueprint_harness.guide import expectations
from blueprint_harness.guide.names import GUIDE_NAMES, GuideNames
from blueprint_harness.manifest.declared import MANIFEST, renamed_manifest
from blueprint_harness.stack.cli import CliResult, PrefectCli
from blueprint_harness.stack.cli_output import find_uuid
from blueprint_harness.stack.models import Deployment, WorkPool


def _ignore(flow_run_id: str) -> None:
    """Nobody needs to hear of a new run."""


@dataclass(frozen=True)
class TriggeredRun:
    """A deployment run created by `prefect deployment run ...`."""

    trigger: expectations.Trigger
    cli: CliResult
    flow_run_id: str
    triggered_at: datetime  # wall-clock time when the command started


@dataclass(frozen=True)
class LocalRun:
    """The result of `python flows/data_pipeline.py` (Step 1.7)."""

    cli: CliResult
    flow_run_id: str
    started_at: datetime


@dataclass(frozen=True)
class PoolCreated:
    """Step 2.1's command and the pool the API then shows."""

    cli: CliResult
    pool: WorkPool

    @property
    def name(self) -> str:
        return self.pool.name


@dataclass(frozen=True)
class Deployed:
    """Step 2.4's command and the deployment the API then shows."""

    cli: CliResult
    deployment: Deployment
    created_at: datetime  # wall-clock time just before the deploy command ran


def prefect_version(cli: PrefectCli) -> CliResult:
    """Step 1.3: `prefect version`."""
    return cli.prefect("version")


def set_api_url(cli: PrefectCli, api_url: str) -> CliResult:
    """Step 1.5: `prefect config set PREFECT_API_URL=...` (in the session's own profile)."""
    return cli.prefect("config", "set", f"PREFECT_API_URL={api_url}")


def view_config(cli: PrefectCli, *, from_profile_only: bool = False) -> CliResult:
    """Step 1.6: `prefect config view`; optionally without the session's env override."""
    env = cli.env_without("PREFECT_API_URL") if from_profile_only else None
    return cli.prefect("config", "view", env=env)


@dataclass(frozen=True)
class ApiUrlConfigured:
    """Steps 1.5 and 1.6: the setting written, then the configuration as the profile
    alone gives it."""

    set: CliResult
    view: CliResult


def configure_api_url(cli: PrefectCli, api_url: str) -> ApiUrlConfigured:
    """Steps 1.5 and 1.6 in order: `prefect config set PREFECT_API_URL=...`, then
    `prefect config view` without the session's own setting of the URL."""
    return ApiUrlConfigured(set_api_url(cli, api_url), view_config(cli, from_profile_only=True))


def run_flow_script(cli: PrefectCli, expect: int | None = 0) -> CliResult:
    """`python flows/data_pipeline.py` from the project root, whatever it exits with."""
    return cli.python(expectations.FLOW_SCRIPT, expect=expect)


def run_flow_locally(
    cli: PrefectCli, on_created: Callable[[str], None] = _ignore, expect: int | None = 0
) -> LocalRun:
    """Step 1.7: `python flows/data_pipeline.py` from the project root (by default it must
    exit 0). `on_created` hears of the run it made even when the script then fails."""
    started_at = datetime.now(UTC)
    result = run_flow_script(cli, expect=None)
    flow_run_id = find_uuid(result.output, "/runs/flow-run/")
    if flow_run_id:
        on_created(flow_run_id)
    cli.check(result, expect=expect)
    assert flow_run_id, f"no flow run URL in the local run's output:\n{result.describe()}"
    return LocalRun(result, flow_run_id, started_at)


def create_work_pool(
    cli: PrefectCli, names: GuideNames = GUIDE_NAMES, expect: int | None = 0
) -> CliResult:
    """Step 2.1: `prefect work-pool create "local-process-pool" --type process`."""
    return cli.prefect(
        "work-pool", "create", names.pool, "--type", expectations.WORK_POOL_TYPE, expect=expect
    )


def list_work_pools(cli: PrefectCli, expect: int | None = 0) -> CliResult:
    """Step 2.2: `prefect work-pool ls`."""
    return cli.prefect("work-pool", "ls", expect=expect)


def deploy(
    cli: PrefectCli,
    names: GuideNames = GUIDE_NAMES,
    expect: int | None = 0,
    scratch: Path | None = None,
) -> CliResult:
    """Step 2.4: `prefect deploy --name production-etl --no-prompt` from the project root.

    On a shared server, under the session's own names: from a manifest written in `scratch`
    that declares only the guide's entry, renamed and on the session's pool (`--name X`
    alone renames only a manifest's single entry; the manifest may declare several)."""
    if names.exact:
        return cli.prefect("deploy", "--name", names.deployment, "--no-prompt", expect=expect)
    return _deploy_renamed(cli, names, names.deployment, scratch or cli.cwd.parent, expect)


def _deploy_renamed(
    cli: PrefectCli, names: GuideNames, name: str, scratch: Path, expect: int | None = 0
) -> CliResult:
    """The manifest's guide entry deployed as `name` on the session's pool."""
    manifest = renamed_manifest(
        cli.cwd, scratch / f"{name}.prefect.yaml", expectations.DEPLOYMENT_NAME, name, names.pool
    )
    return cli.prefect(
        "deploy", "--prefect-file", str(manifest), "--name", name, "--no-prompt", expect=expect
    )


@dataclass(frozen=True)
class CheckoutRun:
    """A run of the deployment as deployed from another checkout of the project."""

    checkout: Path
    run: TriggeredRun


def copy_project(project_dir: Path, target: Path) -> Path:
    """The project as a CI job checks it out: its flows and manifest, at another path."""
    target.mkdir(parents=True)
    ignore = shutil.ignore_patterns("__pycache__")
    shutil.copytree(project_dir / "flows", target / "flows", ignore=ignore)
    shutil.copy(project_dir / MANIFEST, target / MANIFEST)
    return target


def cli_in(cli: PrefectCli, folder: Path) -> PrefectCli:
    """The same terminal, in another folder."""
    return PrefectCli(cli.env, folder, cli.transcript, cli.timeout, cli.bin_dir)


def deploy_from_checkout(cli: PrefectCli, names: GuideNames, scratch: Path) -> str:
    """The guide's deploy from the checkout `cli` is in, under another deployment name (the
    manifest's guide entry renamed, in `scratch`) on the same pool; the name."""
    name = f"{names.deployment}-{cli.cwd.name}"
    _deploy_renamed(cli, names, name, scratch)
    return name


def list_deployments(cli: PrefectCli) -> CliResult:
    """Step 2.5: `prefect deployment ls`."""
    return cli.prefect("deployment", "ls")


def list_flow_runs(cli: PrefectCli, names: GuideNames = GUIDE_NAMES) -> CliResult:
    """Step 3.2: `prefect flow-run ls`, with room for every run of a session (it lists the
    15 most recent by default; the main job makes more); on a shared server, where the
    most recent runs may be anyone's, only the blueprint's flow's."""
    shared = () if names.exact else ("--flow-name", expectations.FLOW_NAME)
    return cli.prefect("flow-run", "ls", *shared, "--limit", "200")


def run_deployment(
    cli: PrefectCli, *args: str, names: GuideNames = GUIDE_NAMES, expect: int | None = 0
) -> CliResult:
    """`prefect deployment run 'Enterprise Data Pipeline/production-etl' <args>`."""
    return cli.prefect("deployment", "run", names.deployment_full, *args, expect=expect)


def created_run_id(result: CliResult) -> str | None:
    """The flow run a `prefect deployment run` created, if it created one."""
    return find_uuid(result.output, "UUID:")


def trigger(
    cli: PrefectCli,
    trigger: expectations.Trigger,
    names: GuideNames = GUIDE_NAMES,
    on_created: Callable[[str], None] = _ignore,
) -> TriggeredRun:
    """Steps 3.1 and 3.3-3.5: `prefect deployment run 'Enterprise Data Pipeline/...' ...`."""
    started = datetime.now(UTC)
    result = run_deployment(cli, *trigger.cli_args, names=names, expect=None)
    flow_run_id = created_run_id(result)
    if flow_run_id:
        on_created(flow_run_id)
    cli.check(result, expect=0)
    assert flow_run_id, f"no flow run UUID in the trigger's output:\n{result.describe()}"
    return TriggeredRun(trigger, result, flow_run_id, started)
