"""Run in a fresh process from the project's folder (never imported by the harness): import
each deployment's entrypoint as a worker would and validate its default parameters (and
each schedule's) against the flow's signature. Prints one JSON document on its last line.

Argument: a JSON list of {"deployment", "entrypoint", "parameters": {field: {...}}}.
"""

from __future__ import annotations

import inspect
import json
import re
import sys
from typing import Any

_FIELD = re.compile(r"^\s*-\s*([A-Za-z_]\w*)\s*:", re.MULTILINE)


def _check(item: dict[str, Any], flows: dict[str, Any]) -> list[dict[str, str]]:
    from prefect.flows import load_flow_from_entrypoint

    deployment, entrypoint = item["deployment"], item["entrypoint"]
    found: list[dict[str, str]] = []

    def problem(field: str, message: str) -> None:
        found.append({"deployment": deployment, "field": field, "message": message})

    if entrypoint not in flows:
        try:
            # As a worker's flow run imports it: no placeholder from the file's syntax
            # tree when the import fails (a missing module would otherwise pass).
            flows[entrypoint] = load_flow_from_entrypoint(entrypoint, use_placeholder_flow=False)
        except BaseException as error:  # whatever the import raises is the news
            flows[entrypoint] = error
    flow = flows[entrypoint]
    if isinstance(flow, BaseException):
        problem("entrypoint", f"{entrypoint!r} does not import: {type(flow).__name__}: {flow}")
        return found
    signature = inspect.signature(flow.fn)
    takes_any = any(p.kind is p.VAR_KEYWORD for p in signature.parameters.values())
    for field, parameters in item["parameters"].items():
        unknown = [name for name in parameters if name not in signature.parameters]
        for name in unknown if not takes_any else []:
            problem(f"{field}.{name}", f"the flow {flow.name!r} takes no parameter {name!r}")
        try:
            flow.validate_parameters({k: v for k, v in parameters.items() if k not in unknown})
        except Exception as error:  # Prefect names the fields
            message = str(error).strip().replace("\n", " ")
            for name in _FIELD.findall(str(error)) or [""]:
                problem(f"{field}.{name}".rstrip("."), f"the flow refuses it: {message}")
    return found


def main() -> None:
    items = json.loads(sys.argv[1])
    sys.path.insert(0, ".")
    flows: dict[str, Any] = {}
    problems = [problem for item in items for problem in _check(item, flows)]
    names = {ep: f.name for ep, f in flows.items() if not isinstance(f, BaseException)}
    print(json.dumps({"problems": problems, "flows": names}))


if __name__ == "__main__":
    main()
