"""A run's persisted result, read back the way a user debugging yesterday's run would: in
another process, with the sandbox's settings, through Prefect's own `state.result()`."""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

from blueprint_harness.stack.cli import PrefectCli

READ_RESULTS = """
import json, sys
from prefect import get_client

found = {}
with get_client(sync_client=True) as client:
    for flow_run_id in sys.argv[1:]:
        state = client.read_flow_run(flow_run_id).state
        try:
            found[flow_run_id] = {"value": state.result()}
        except Exception as error:
            found[flow_run_id] = {"error": f"{type(error).__name__}: {error}"}
print(json.dumps(found, default=repr))
"""


def persisted_results(cli: PrefectCli, flow_run_ids: Sequence[str]) -> dict[str, dict[str, Any]]:
    """Each run's result (`{"value": ...}`) or why it cannot be read (`{"error": ...}`)."""
    if not flow_run_ids:
        return {}
    result = cli.python("-c", READ_RESULTS, *flow_run_ids)
    found: dict[str, dict[str, Any]] = json.loads(result.stdout.strip().splitlines()[-1])
    return found
