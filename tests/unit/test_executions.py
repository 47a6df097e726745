"""Which code a run executed, judged from what the witness recorded in its engine process:
the project's flow file and each module beside it that the run loaded, byte for byte."""

import pytest

from blueprint_harness.stack.executions import Execution, sha256_of, source_problems
from blueprint_harness.stack.run_probe import LoadedSource, RunProcess

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
