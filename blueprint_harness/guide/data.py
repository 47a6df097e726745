"""What a run wrote to the warehouse, judged against the guide's oracle (expectations).

Rows are compared as values: the same ids, each column equal (numbers within a relative
1e-9, so a faithful rewrite of the arithmetic keeps its word), nothing missing or extra.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

from blueprint_harness.backends.warehouses import Row, Warehouse
from blueprint_harness.guide import expectations

SHOWN = 5  # differing rows shown in a failure, at most


def same_value(found: Any, wanted: Any) -> bool:
    if isinstance(wanted, float) and isinstance(found, int | float):
        return math.isclose(found, wanted, rel_tol=1e-9, abs_tol=1e-12)
    return bool(found == wanted)


def row_problems(found: Sequence[Row], wanted: Sequence[Row]) -> list[str]:
    """Why `found` is not exactly `wanted` (none if it is)."""
    problems = []
    if len(found) != len(wanted):
        problems.append(f"{len(found)} rows, expected {len(wanted)}")
    by_id = {row["id"]: row for row in found}
    differing = []
    for want in wanted:
        got = by_id.pop(want["id"], None)
        if got is None:
            differing.append(f"row {want['id']} is missing (expected {want})")
        elif not all(same_value(got.get(k), v) for k, v in want.items()):
            differing.append(f"row {want['id']} is {got}, expected {want}")
    problems += differing[:SHOWN] + (
        [f"... {len(differing) - SHOWN} more"] if len(differing) > SHOWN else []
    )
    if by_id:
        problems.append(f"{len(by_id)} rows nobody asked for, such as {next(iter(by_id.values()))}")
    return problems


def load_problems(
    warehouse: Warehouse, target_table: str, flow_run_id: str, wanted: Sequence[Row]
) -> list[str]:
    """Why the run's batch in `target_table` is not exactly `wanted`, said with where."""
    problems = row_problems(warehouse.rows(target_table, flow_run_id), wanted)
    where = f"flow run {flow_run_id}'s batch in {target_table} ({warehouse.describe()})"
    return [f"{where}: {problem}" for problem in problems]


def prepare_contract_tables(warehouse: Warehouse) -> None:
    """The tables the contract's cases need before their runs load: the one that refuses
    a row part-way, holding an earlier batch (once per warehouse)."""
    if expectations.PARTWAY_TABLE not in warehouse.tables():
        warehouse.refusing(
            expectations.PARTWAY_TABLE, expectations.PARTWAY_REFUSED_ID, expectations.partway_seed()
        )
