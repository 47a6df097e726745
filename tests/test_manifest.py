"""The pre-deploy check of the blueprint's manifest, which the main job runs first: before
any server starts, the manifest read strictly, its schedules parsed the way Prefect parses
them, its job variables checked against the pool type's template, every entrypoint
imported in a fresh process with its defaults validated. (The check's own tests, each
mistake named by file, deployment and field: tests/unit/test_manifest_check.py.)"""

from __future__ import annotations

import pytest

from blueprint_harness.guide import expectations as expected

pytestmark = pytest.mark.manifest


def test_the_blueprints_manifest_passes_the_check_in_seconds(manifest_check):
    assert manifest_check.ok, manifest_check.describe()
    assert manifest_check.seconds <= expected.MANIFEST_CHECK_BOUND_SECONDS, (
        manifest_check.describe()
    )
    assert set(manifest_check.flows.values()) == {expected.FLOW_NAME}
