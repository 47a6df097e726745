"""`blueprint up`, used as a person uses it: started in a terminal (by a script, in the
background: SIGINT ignored, as shells start background jobs), the guide's default trigger
run against it until Completed from another terminal, then Ctrl-C; nothing of it is left
running and its port is free."""

from __future__ import annotations

import os

import pytest

from blueprint_harness.guide import expectations as expected
from blueprint_harness.stack.cli import PrefectCli
from support.outside import (
    PROJECT_ROOT,
    BlueprintUp,
    blueprint_command,
    describe_processes,
    port_is_free,
)

pytestmark = pytest.mark.up

STARTUP_SECONDS = 180
RUN_SECONDS = 180


@pytest.fixture
def stack_up(tmp_path):
    person = {k: v for k, v in os.environ.items() if not k.startswith("PREFECT_")}
    up = BlueprintUp(tmp_path, person, in_background=True)
    try:
        yield up
    finally:
        up.close()


def test_blueprint_up_serves_the_guides_trigger_and_ctrl_c_leaves_nothing(stack_up, tmp_path):
    api_url, ready_seconds = stack_up.wait_ready(timeout=STARTUP_SECONDS)
    another_terminal = PrefectCli(
        {
            **{k: v for k, v in os.environ.items() if not k.startswith("PREFECT_")},
            "PREFECT_API_URL": api_url,
            "PREFECT_HOME": str(tmp_path / "person-home"),
        },
        tmp_path,
        tmp_path / "transcript.log",
    )
    triggered = another_terminal.prefect(
        "deployment", "run", expected.DEPLOYMENT_FULL_NAME, "--watch", timeout=RUN_SECONDS
    )
    drift = another_terminal.run(
        (
            blueprint_command(),
            "drift",
            "--prefect-api-url",
            api_url,
            "--project-dir",
            str(PROJECT_ROOT),
        ),
        expect=None,
    )
    running = describe_processes(stack_up.processes())
    port = int(api_url.rsplit(":", 1)[1].split("/")[0])

    exit_code = stack_up.interrupt(timeout=60)

    assert "Completed" in triggered.output, triggered.describe()
    assert drift.returncode == 0, drift.describe()  # what it deployed is the manifest
    assert any("server start" in process for process in running), running
    assert exit_code == 0, stack_up.output[-3000:]
    assert "nothing is left running" in stack_up.output
    assert stack_up.processes() == []
    assert port_is_free(port)
    print(f"blueprint up: ready in {ready_seconds:.1f}s")
