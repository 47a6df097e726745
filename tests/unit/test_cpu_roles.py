"""Which role a process's CPU time is counted under in the load benchmark."""

import pytest

from blueprint_harness.process.cpu import FLOW_RUNS, role_of
from blueprint_harness.process.janitor import MARKER

pytestmark = pytest.mark.unit


@pytest.mark.parametrize(
    ("environ", "name", "role"),
    [
        ({MARKER: "prefect-server-stack-7"}, "prefect", "API server"),
        ({MARKER: "prefect-server-services-stack-7"}, "prefect", "services"),
        ({MARKER: "prefect-worker-2-stack-7"}, "prefect", "workers"),
        ({MARKER: "prefect-worker-owners-server-7"}, "prefect", "workers"),
        ({MARKER: "redis-6379-7"}, "redis-server", "Redis"),
        ({MARKER: "prefect-worker-stack-7", "PREFECT__FLOW_RUN_ID": "x"}, "python", FLOW_RUNS),
        ({}, "redis-server", "Redis"),
        ({}, "postgres", "PostgreSQL"),
        ({}, "sh", "other"),
    ],
)
def test_each_process_is_counted_under_its_role(environ, name, role):
    assert role_of(environ, name) == role
