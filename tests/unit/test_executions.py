"""Which code a run executed, judged from what the witness recorded in its engine process:
the project's flow file and each module beside it that the run loaded, byte for byte."""

import os
import subprocess
import sys
import time

import pytest

from blueprint_harness.stack.executions import Execution, sha256_of, source_problems
from blueprint_harness.stack.run_probe import (
    LoadedSource,
    RunProcess,
    probe_settings,
    processes_by_run,
)

pytestmark = pytest.mark.unit

FLOW = "flows/data_pipeline.py"


@pytest.fixture
def project(tmp_path):
    """A project whose flow imports a module beside it, and a copy of it elsewhere."""
    for root in (tmp_path / "project", tmp_path / "elsewhere"):
        (root / "flows").mkdir(parents=True)
        (root / FLOW).write_text("from warehouse import replace_batch\n")
        (root / "flows" / "warehouse.py").write_text("def replace_batch(): ...\n")
    return tmp_path / "project"


def ran(project, *paths):
    loaded = [LoadedSource(path, sha256_of(path), project) for path in paths]
    engine = RunProcess(1, "run", argv=["python", "-m", "prefect.engine"], loaded=loaded)
    return Execution("run", (engine,))


def test_the_projects_flow_and_its_sibling_module_pass(project):
    execution = ran(project, project / FLOW, project / "flows" / "warehouse.py")

    assert source_problems(project, execution, FLOW) == []


def test_a_sibling_module_from_another_checkout_is_named(project):
    other = project.parent / "elsewhere" / "flows" / "warehouse.py"
    execution = ran(project, project / FLOW, other)

    problems = source_problems(project, execution, FLOW)

    assert len(problems) == 1, problems
    assert str(other) in problems[0]


def test_a_sibling_module_changed_since_it_ran_is_named(project):
    sibling = project / "flows" / "warehouse.py"
    execution = ran(project, project / FLOW, sibling)
    sibling.write_text("def replace_batch(): return 0\n")

    problems = source_problems(project, execution, FLOW)

    assert len(problems) == 1, problems
    assert "as it was then" in problems[0]


def test_a_run_that_loaded_no_flow_file_is_named(project):
    execution = ran(project, project / "flows" / "warehouse.py")

    assert any("loaded no data_pipeline.py" in p for p in source_problems(project, execution, FLOW))


def test_modules_that_are_not_the_projects_are_not_judged(project, tmp_path):
    library = tmp_path / "lib" / "helpers.py"
    library.parent.mkdir()
    library.write_text("")

    assert source_problems(project, ran(project, project / FLOW, library), FLOW) == []


def test_the_cpu_wait_of_a_span_is_interpolated_between_samples():
    engine = RunProcess(1, "run", cpu_waits=[(10.0, 1.0), (11.0, 2.0), (12.0, 2.0)])

    assert engine.waited_for_cpu(10.5, 12.0) == pytest.approx(0.5)
    assert engine.waited_for_cpu(10.0, 12.5) is None  # the samples end before the span does


def test_the_witness_records_a_real_process_s_cpu_waits(tmp_path):
    record = tmp_path / "record.jsonl"
    env = {**os.environ, **probe_settings(record), "PREFECT__FLOW_RUN_ID": "run"}
    started = time.time()
    subprocess.run([sys.executable, "-c", "import time; time.sleep(1)"], env=env, check=True)
    ended = time.time()

    (process,) = processes_by_run(record)["run"]
    waited = process.waited_for_cpu(started + 0.3, ended - 0.1)

    assert len(process.cpu_waits) >= 4, process.cpu_waits  # a quarter second apart
    assert waited is not None
    assert 0 <= waited < 0.5  # a sleep is not a wait for a CPU
