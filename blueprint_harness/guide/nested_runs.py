"""The blueprint's flow as a team's own orchestration calls it: a subflow of a parent flow,
twice into one table (README: a batch is a flow run, nested or not, keyed by its own id).

    python -m blueprint_harness.guide.nested_runs <project dir> '<[{parameters}, ...]>'

Prints one JSON line: the parent's flow run id, and each nested run's id, parameters and
final state. Run from the project root with the sandbox's settings, like the local run.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

PARENT_FLOW = "Blueprint in a parent flow"


def main(project: Path, calls: list[dict[str, Any]]) -> int:
    from prefect import flow
    from prefect.flows import load_flow_from_entrypoint
    from prefect.runtime import flow_run

    from blueprint_harness.guide.expectations import DEPLOYMENT_NAME
    from blueprint_harness.manifest.declared import guide_entrypoint

    entrypoint = guide_entrypoint(project, DEPLOYMENT_NAME)
    blueprint: Any = load_flow_from_entrypoint(
        str(project / entrypoint), use_placeholder_flow=False
    )

    @flow(name=PARENT_FLOW)
    def parent() -> dict[str, Any]:
        nested = []
        for parameters in calls:
            state = blueprint(**parameters, return_state=True)
            nested.append(
                {
                    "id": str(state.state_details.flow_run_id),
                    "parameters": parameters,
                    "state": state.name,
                }
            )
        return {"parent": str(flow_run.id), "nested": nested}

    print(json.dumps(parent()), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main(Path(sys.argv[1]), json.loads(sys.argv[2])))
