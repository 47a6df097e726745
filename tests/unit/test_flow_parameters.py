"""The flow validates its parameters before running: bad values are refused naming the
parameter, the edges of what is allowed are accepted. The flow is the one of the project
under test (--prefect-project-dir), loaded from its file."""

import importlib.util

import pytest

from blueprint_harness.guide import expectations as expected

pytestmark = pytest.mark.unit


@pytest.fixture(scope="module")
def flow(harness_config):
    """The project's flow, imported only when these tests run (prefect takes ~1.5 s)."""
    path = harness_config.project_dir / expected.FLOW_SCRIPT
    spec = importlib.util.spec_from_file_location("blueprint_flow_under_test", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    function_name = expected.ENTRYPOINT.rpartition(":")[2]
    return getattr(module, function_name)


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
