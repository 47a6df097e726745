"""The expectations are the guide's (docs/blueprint-guide.md, the specification, kept in
the repository as it was given): each value the harness holds the blueprint to is read
back from the guide's own text here, so an expectation edited away from the guide fails
(the harness never reads its expectations from the files it checks)."""

from __future__ import annotations

import re
import shlex
from pathlib import Path

import pytest

from blueprint_harness.guide import expectations as expected

pytestmark = pytest.mark.unit

GUIDE = (Path(__file__).resolve().parents[2] / "docs" / "blueprint-guide.md").read_text()


def guide_commands(*prefix: str) -> list[list[str]]:
    """The guide's shell commands that start with the words `prefix`, as argument lists (a
    command continued with a backslash is one command), in the guide's order."""
    joined = GUIDE.replace("\\\n", " ")
    found = []
    for line in joined.splitlines():
        words = shlex.split(line.strip(), comments=True) if line.strip() else []
        if words[: len(prefix)] == list(prefix):
            found.append(words)
    return found


def test_the_names_are_the_guides():
    assert f"`{expected.DEPLOYMENT_FULL_NAME}` listed" in GUIDE
    assert [
        "prefect",
        "work-pool",
        "create",
        expected.WORK_POOL_NAME,
        "--type",
        expected.WORK_POOL_TYPE,
    ] in guide_commands("prefect", "work-pool", "create")
    assert ["prefect", "deploy", "--name", expected.DEPLOYMENT_NAME, "--no-prompt"] in (
        guide_commands("prefect", "deploy")
    )
    assert ["prefect", "worker", "start", "--pool", expected.WORK_POOL_NAME] in guide_commands(
        "prefect", "worker", "start"
    )
    assert f"`{Path(expected.FLOW_SCRIPT).name}` (main pipeline)" in GUIDE


def test_the_schedule_is_the_guides():
    assert f'"{expected.SCHEDULE_CRON}" (9 AM daily)' in GUIDE
    assert f"Should show next {expected.SCHEDULE_LOCAL_TIME:%-I:%M} AM Chicago time" in GUIDE
    assert expected.SCHEDULE_TIMEZONE.split("/")[1] == "Chicago"


def test_the_retry_policy_and_the_default_batch_are_the_guides():
    assert f"**Max Retries:** {expected.TASK_RETRIES} attempts" in GUIDE
    assert f"**Task Retry Delay:** {expected.TASK_RETRY_DELAY_SECONDS:g} seconds" in GUIDE
    assert f"Retry mechanism verified ({expected.TASK_RETRIES} attempts, " in GUIDE
    assert f"**Batch Size:** Default {expected.DEFAULT_PARAMETERS['batch_size']}" in GUIDE


def test_the_state_path_is_the_guides():
    diagram = re.search(r"```\n(Scheduled → .*?)\n```", GUIDE, re.DOTALL)
    assert diagram is not None
    first, *_ = diagram.group(1).splitlines()

    assert tuple(first.split(" → ")) == expected.COMPLETED_PATH
    assert "Failed (after retries)" in diagram.group(1)
    assert (*expected.COMPLETED_PATH[:-1], "Failed") == expected.FAILED_PATH


def test_the_triggers_are_the_guides_commands_verbatim():
    commands = guide_commands("prefect", "deployment", "run", expected.DEPLOYMENT_FULL_NAME)
    given = [words[4:] for words in commands]  # steps 3.1, 3.3-3.5, then the quick reference

    assert [list(trigger.cli_args) for trigger in expected.TRIGGERS] == given[:4]
    assert expected.TRIGGERS_BY_KEY["failing-url"].cli_args == (
        "--param",
        f"source_url={expected.FAILING_SOURCE_URL}",
    )


def test_the_troubleshooting_rows_are_the_guides():
    assert f'### Issue: "{expected.SERVER_DOWN_SCRIPT_ERROR}" errors' in GUIDE
    assert f'### Issue: Deployment stays in "{expected.LATE_STATE}" state' in GUIDE
    assert '### Issue: "Work pool not found"' in GUIDE


def test_the_duration_bound_stands_on_the_guides_figure():
    typical = re.search(r"\*\*Flow Run Duration:\*\* Typically (\d+)-(\d+) seconds", GUIDE)
    assert typical is not None

    assert float(typical.group(2)) == expected.RUN_DURATION_BOUND_SECONDS
