"""Drift between the manifest and a live server (`blueprint drift`): read-only, each
difference named by deployment and field, deployments the manifest no longer names
listed; against a server seeded with the blueprint and edited the way the UI edits, and
(with --prefect-api-url) against the server someone else runs."""

from __future__ import annotations

import pytest

from blueprint_harness.console import main as blueprint
from blueprint_harness.guide import expectations as expected
from blueprint_harness.manifest import variants
from blueprint_harness.manifest.drift import drift
from blueprint_harness.stack.edits import UiEdits, edit_like_the_ui

pytestmark = pytest.mark.drift


def test_no_drift_right_after_deploying_every_deployment(deployed_for_drift):
    report = drift(deployed_for_drift.stack.api, deployed_for_drift.folder)

    assert not report.differences, report.describe()
    assert len(report.compared) == 2, report.describe()


def test_a_deployment_removed_from_the_manifest_is_listed_as_still_on_the_server(
    deployed_for_drift,
):
    deployed_for_drift.edit(variants.remove_second_deployment)
    report = drift(deployed_for_drift.stack.api, deployed_for_drift.folder)
    deployed_for_drift.edit(variants.add_second_deployment)

    listed = [d for d in report.differences if d.deployment.endswith(variants.SECOND_DEPLOYMENT)]
    assert [d.manifest for d in listed] == ["not in the manifest"], report.describe()
    assert "1 active schedule" in str(listed[0])
    assert len(report.differences) == 1, report.describe()


def test_edits_made_the_way_the_ui_makes_them_are_each_named_and_nothing_changes(
    deployed_for_drift, capsys
):
    api = deployed_for_drift.stack.api
    edit_like_the_ui(api, deployed_for_drift.deployment(expected.DEPLOYMENT_NAME).id)
    before = api.every("deployments/filter")

    code = blueprint(
        ["drift", "--prefect-api-url", api.api_url, "--project-dir", str(deployed_for_drift.folder)]
    )
    printed = capsys.readouterr().out

    assert code == 1, printed
    for field in UiEdits.fields:
        assert f"{expected.DEPLOYMENT_FULL_NAME}: {field}:" in printed, printed
    assert variants.SECOND_DEPLOYMENT not in printed, "the other deployment did not drift"
    assert api.every("deployments/filter") == before, "drift only reads"


def test_the_live_server_matches_the_manifest(live_server_api, harness_config):
    report = drift(live_server_api, harness_config.project_dir)

    assert not report.differences, report.describe()
