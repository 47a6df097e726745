"""The blueprint's contract beyond the guide's checklists (README, "The blueprint's
contract"), in the main job: each promise held by a case that would show its breach.

- bad parameters refused where first seen, naming the field (the flow's validation, the
  table pattern anchored at both ends);
- the embedded warehouse as a new user gets it, with nothing configured (the local run);
- a configured warehouse that refuses: the load fails naming it, its password nowhere a
  person or a log shipper reads, and nothing falls back to the embedded warehouse;
- a load refused part-way: nothing of the run is left, the table's other batch untouched;
- inputs shaped as the guide's never are, a batch over the default included (the generic
  checks of every trigger, tests/test_phase3_triggers.py, hold them to the oracle);
- the flow nested in another flow, twice into one table: a batch per nested run;
- a completed run run again: its batch once;
- every table any run could have touched holds exactly the batches of the runs that
  completed into it, nothing of a failed run anywhere;
- the server's log carries its scheduler's activity (the guide's Terminal B).
"""

from __future__ import annotations

import pytest

from blueprint_harness.guide import expectations as expected
from blueprint_harness.guide.data import load_problems, row_problems
from blueprint_harness.stack.api import ApiError
from blueprint_harness.stack.states import follows_path

pytestmark = pytest.mark.contract


@pytest.mark.parametrize("case", expected.INVALID_PARAMETERS)
def test_the_api_refuses_bad_parameters_naming_the_field(case, prefect_api, deployment):
    parameters = expected.INVALID_PARAMETERS[case]

    with pytest.raises(ApiError) as refused:
        prefect_api.create_flow_run(deployment.deployment.id, dict(parameters))

    assert refused.value.status_code == 409
    assert expected.validation_failed(next(iter(parameters))) in str(refused.value.detail)


def test_the_local_run_with_nothing_configured_loads_into_the_embedded_warehouse(
    own_servers, local_run, prefect_runs, embedded_warehouse
):
    record = prefect_runs.wait_settled(local_run.flow_run_id, tasks=expected.TASKS)
    params = expected.DEFAULT_PARAMETERS
    wanted = expected.expected_rows(params["source_url"], params["batch_size"])

    assert record.flow_run.state_name == "Completed", record.describe()
    assert not load_problems(
        embedded_warehouse, params["target_table"], local_run.flow_run_id, wanted
    )


def test_a_configured_warehouse_that_refuses_fails_the_load_naming_it(
    own_servers, refused_warehouse_run
):
    told = refused_warehouse_run
    load = told.record.task(expected.SINK_TASK)

    assert told.run.cli.returncode != 0
    assert told.record.flow_run.state_name == "Failed", told.record.describe()
    assert load.task_run.run_count == expected.TASK_RETRIES + 1, told.record.describe()
    assert told.shown_url in (load.states[-1].message or ""), told.record.describe()
    assert told.shown_url in told.run.cli.output


def test_the_refusing_warehouses_password_is_nowhere_to_be_read(own_servers, refused_warehouse_run):
    told = refused_warehouse_run
    record = told.record
    read = {
        "the terminal": told.run.cli.output,
        "the stored logs": "\n".join(entry.message for entry in record.logs),
        "the flow run's states": "\n".join(state.message or "" for state in record.states),
        "the task runs' states": "\n".join(
            state.message or "" for task in record.task_runs for state in task.states
        ),
        "the run's events": str(told.events),
        "the run's API record (the UI's source)": str(told.api_record),
    }

    assert told.events, "the server stored no event of the run to look into"
    assert told.password not in told.shown_url
    assert [place for place, text in read.items() if told.password in text] == []


def test_a_configured_warehouse_that_refuses_never_falls_back(
    own_servers, refused_warehouse_run, embedded_warehouse
):
    run_id = refused_warehouse_run.record.flow_run.id

    held = {
        table: embedded_warehouse.batches(table).get(run_id)
        for table in embedded_warehouse.tables()
    }
    assert {table: n for table, n in held.items() if n} == {}


@pytest.fixture(scope="module")
def contract_case(contract_runs, prefect_runs):
    """The API's record of a contract case's run once it settled (skipped where it
    cannot run: the part-way table is one the harness prepares in its own warehouse)."""

    def settled(key):
        if key not in contract_runs:
            pytest.skip(f"{key} needs a warehouse of the harness's own")
        case = next(c for c in expected.CONTRACT_CASES if c.key == key)
        return case, prefect_runs.wait_settled(contract_runs[key], tasks=case.tasks)

    return settled


def test_a_load_refused_part_way_leaves_nothing_and_the_tables_other_batch_untouched(
    contract_case, warehouse
):
    _, record = contract_case("failing-partway")
    seed = expected.partway_seed()
    load = record.task(expected.SINK_TASK)

    assert record.flow_run.state_name == "Failed", record.describe()
    assert load.task_run.run_count == expected.TASK_RETRIES + 1, record.describe()
    assert "refuses row" in (load.states[-1].message or ""), record.describe()
    assert warehouse.rows(expected.PARTWAY_TABLE, record.flow_run.id) == []
    assert warehouse.batches(expected.PARTWAY_TABLE) == {expected.PARTWAY_SEED_BATCH: len(seed)}
    assert not row_problems(
        warehouse.rows(expected.PARTWAY_TABLE, expected.PARTWAY_SEED_BATCH),
        [{k: v for k, v in row.items() if k != "batch_id"} for row in seed],
    )


def test_an_unreachable_source_fails_in_extract_after_its_retries_naming_it(contract_case):
    _, record = contract_case("unreachable-source")
    extract = record.task(expected.SOURCE_TASK)

    assert record.flow_run.state_name == "Failed", record.describe()
    assert [t.task_run.task_names for t in record.task_runs] == [extract.task_run.task_names]
    assert extract.task_run.run_count == expected.TASK_RETRIES + 1, record.describe()
    assert expected.UNREACHABLE_SOURCE_URL in (record.states[-1].message or ""), record.describe()


def test_each_run_of_the_flow_nested_in_another_is_a_batch_of_its_own(
    nested_runs, prefect_runs, warehouse
):
    for nested in nested_runs.nested:
        record = prefect_runs.wait_settled(nested["id"], tasks=expected.TASKS)
        params = {**expected.DEFAULT_PARAMETERS, **nested["parameters"]}
        wanted = expected.expected_rows(params["source_url"], params["batch_size"])

        assert record.flow_run.state_name == "Completed", record.describe()
        assert not load_problems(warehouse, params["target_table"], nested["id"], wanted)
    batches = warehouse.batches(expected.NESTED_TABLE)
    assert batches == {
        nested["id"]: nested["parameters"]["batch_size"] for nested in nested_runs.nested
    }
    assert nested_runs.parent_id not in batches


def test_a_completed_run_run_again_keeps_its_batch_once(rerun, prefect_runs, warehouse):
    record = prefect_runs.wait_settled(rerun.again.id, tasks=expected.TASKS)
    params = expected.RERUN_TRIGGER.parameters
    wanted = expected.expected_rows(params["source_url"], params["batch_size"])
    running = [state for state in record.states if state.type == "RUNNING"]

    assert rerun.first.state_name == rerun.again.state_name == "Completed", record.describe()
    assert len(running) >= 2, record.describe()  # it did run again
    assert follows_path(record.state_names, expected.COMPLETED_PATH), record.describe()
    assert not load_problems(warehouse, params["target_table"], rerun.again.id, wanted)
    assert warehouse.batches(params["target_table"]) == {rerun.again.id: params["batch_size"]}


def test_every_table_holds_exactly_the_batches_of_the_runs_that_completed_into_it(
    triggered_runs,
    run_from_another_checkout,
    nested_runs,
    rerun,
    contract_runs,
    prefect_runs,
    warehouse,
):
    prefect_runs.wait_all_terminal(run.flow_run_id for run in triggered_runs.values())
    prefect_runs.wait_all_terminal(contract_runs.values())
    prefect_runs.wait_terminal(run_from_another_checkout.run.flow_run_id)
    loaded = {}  # batch id: the table it belongs in
    for run in triggered_runs.values():
        if run.trigger.final_state == "Completed":
            loaded[run.flow_run_id] = run.trigger.parameters["target_table"]
    loaded[run_from_another_checkout.run.flow_run_id] = expected.DEFAULT_PARAMETERS["target_table"]
    for nested in nested_runs.nested:
        loaded[nested["id"]] = nested["parameters"]["target_table"]
    loaded[rerun.again.id] = expected.RERUN_TRIGGER.parameters["target_table"]
    loaded[expected.PARTWAY_SEED_BATCH] = expected.PARTWAY_TABLE

    held = {table: set(warehouse.batches(table)) for table in warehouse.tables()}

    misplaced = {
        table: sorted(batch for batch in batches if loaded.get(batch) != table)
        for table, batches in held.items()
    }
    assert {table: batches for table, batches in misplaced.items() if batches} == {}
    missing = {batch: table for batch, table in loaded.items() if batch not in held.get(table, ())}
    assert missing == {}


def test_the_server_log_carries_its_schedulers_activity(own_server, deployment, prefect_runs):
    prefect_runs.wait_scheduled(deployment.deployment.id, at_least=1)

    prefect_runs.monitor.wait_for_log_line(
        own_server.services_log_path,
        expected.SCHEDULER_ACTIVITY,
        timeout=prefect_runs.timeout,
    )
