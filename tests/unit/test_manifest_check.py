"""The pre-deploy check itself: each mistake a team makes in prefect.yaml (and an
entrypoint with side effects) named by file, deployment and field; a second deployment
and the `blueprint check` command."""

from __future__ import annotations

import pytest

from blueprint_harness.console import main as blueprint
from blueprint_harness.guide import expectations as expected
from blueprint_harness.manifest.check import check_manifest
from blueprint_harness.manifest.variants import BROKEN, add_second_deployment

pytestmark = pytest.mark.unit


def test_a_second_deployment_passes_the_check(project_copy):
    checked = check_manifest(project_copy(add_second_deployment))

    assert checked.ok, checked.describe()


@pytest.mark.parametrize("broken", BROKEN, ids=lambda b: b.key)
def test_each_mistake_is_named_by_file_deployment_and_field(project_copy, broken):
    checked = check_manifest(project_copy(broken.edit))
    named = [
        p for p in checked.problems if (p.deployment, p.field) == (broken.deployment, broken.field)
    ]

    assert named, f"expected a problem at {broken.deployment}/{broken.field}: {checked.describe()}"
    assert all(p.file == "prefect.yaml" for p in checked.problems), checked.describe()
    assert all(any(word in p.message for p in named) for word in broken.says), checked.describe()


def test_an_entrypoint_that_writes_when_imported_is_named(project_copy):
    copy = project_copy(lambda document: None)
    flow = copy / expected.FLOW_SCRIPT
    flow.write_text(
        flow.read_text()
        + '\nimport pathlib\n\npathlib.Path(__file__).with_name("imported.txt").write_text("x")\n'
    )

    checked = check_manifest(copy)

    assert any("imported.txt" in p.message for p in checked.problems), checked.describe()


def test_blueprint_check_exits_non_zero_naming_the_mistake(project_copy, capsys):
    broken = next(b for b in BROKEN if b.key == "bad-timezone")
    copy = project_copy(broken.edit)

    assert blueprint(["check", "--project-dir", str(copy)]) == 1
    assert "production-etl" in capsys.readouterr().out
    assert blueprint(["check", "--project-dir", str(project_copy(add_second_deployment))]) == 0
