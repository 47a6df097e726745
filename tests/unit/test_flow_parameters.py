"""The flow validates its parameters before running: bad values are refused naming the
parameter, the edges of what is allowed are accepted. The flow is the one of the project
under test (--prefect-project-dir), loaded from its file."""

import sys

import pytest

from blueprint_harness.guide import expectations as expected
from blueprint_harness.manifest.declared import guide_entrypoint

pytestmark = pytest.mark.unit


@pytest.fixture(scope="module")
def flow(harness_config):
    """The project's flow, imported only when these tests run (prefect takes ~1.5 s), the
    way a worker's flow run imports its entrypoint (the flow's folder on sys.path, for the
    modules beside it); sys.path is given back afterwards."""
    from prefect.flows import load_flow_from_entrypoint

    project = harness_config.project_dir
    entrypoint = guide_entrypoint(project, expected.DEPLOYMENT_NAME)
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(sys, "path", list(sys.path))
        return load_flow_from_entrypoint(str(project / entrypoint), use_placeholder_flow=False)


def test_no_parameters_means_the_guides_defaults(flow):
    assert flow.validate_parameters({}) == dict(expected.DEFAULT_PARAMETERS)


@pytest.mark.parametrize("case", expected.INVALID_PARAMETERS)
def test_bad_values_are_rejected_naming_the_parameter(flow, case):
    from prefect.exceptions import ParameterTypeError

    parameters = dict(expected.INVALID_PARAMETERS[case])

    with pytest.raises(ParameterTypeError, match=next(iter(parameters))):
        flow.validate_parameters(parameters)


@pytest.mark.parametrize("case", expected.VALID_EDGE_PARAMETERS)
def test_the_edges_of_what_is_allowed_are_accepted(flow, case):
    parameters = dict(expected.VALID_EDGE_PARAMETERS[case])

    assert flow.validate_parameters(parameters) == {**expected.DEFAULT_PARAMETERS, **parameters}
