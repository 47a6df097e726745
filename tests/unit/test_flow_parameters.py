"""The flow validates its parameters before running: bad values get a clear message."""

import pytest

from fixtures.guide import expectations as guide

pytestmark = pytest.mark.unit


@pytest.fixture(scope="module")
def flow():
    """The flow, imported only when these tests run (importing prefect takes ~1.5 s)."""
    from flows.data_pipeline import enterprise_data_pipeline

    return enterprise_data_pipeline


def test_no_parameters_means_the_guides_defaults(flow):
    assert flow.validate_parameters({}) == dict(guide.DEFAULT_PARAMETERS)


@pytest.mark.parametrize(
    ("parameters", "message"),
    [
        ({"batch_size": 0}, "batch_size: Input should be greater than 0"),
        ({"batch_size": -5}, "batch_size: Input should be greater than 0"),
        ({"batch_size": "abc"}, "batch_size: Input should be a valid integer"),
        ({"batch_size": 2.5}, "batch_size: Input should be a valid integer"),
        ({"target_table": "metrics"}, "target_table: String should match pattern"),
    ],
)
def test_bad_values_are_rejected_naming_the_parameter(flow, parameters, message):
    from prefect.exceptions import ParameterTypeError

    with pytest.raises(ParameterTypeError, match=message):
        flow.validate_parameters(parameters)
