"""Reading the Prefect CLI's printed output."""

import pytest

from blueprint_harness.stack.cli_output import config_setting, find_uuid, key_values, table_rows

pytestmark = pytest.mark.unit

RUN_ID = "9bcdc325-030f-4cd2-8e4a-d9f2b595dc2d"

TABLE = """\
                Work Pools
┏━━━━━━━━━━━━━━━━━━━━┳━━━━━━━━━┳━━━━━━━━━━━━━━━━━━━┓
┃ Name               ┃ Type    ┃ Concurrency Limit ┃
┡━━━━━━━━━━━━━━━━━━━━╇━━━━━━━━━╇━━━━━━━━━━━━━━━━━━━┩
│ local-process-pool │ process │ None              │
│ other              │ docker  │ 3                 │
└────────────────────┴─────────┴───────────────────┘
"""


def test_table_rows_are_keyed_by_heading():
    assert table_rows(TABLE) == [
        {"Name": "local-process-pool", "Type": "process", "Concurrency Limit": "None"},
        {"Name": "other", "Type": "docker", "Concurrency Limit": "3"},
    ]


def test_config_setting_gives_value_and_source():
    text = "PREFECT_PROFILE='ephemeral'\nPREFECT_API_URL='http://127.0.0.1:1/api' (from profile)\n"

    assert config_setting(text, "PREFECT_API_URL") == ("http://127.0.0.1:1/api", "profile")
    assert config_setting(text, "PREFECT_HOME") is None


def test_key_values_first_occurrence_wins():
    text = "Version:   3.9.1\nServer:\n  Database:   sqlite\nVersion: other\n"

    assert key_values(text) == {"Version": "3.9.1", "Database": "sqlite"}


def test_find_uuid_after_a_marker():
    text = f"Created flow run 'x'.\n└── UUID: {RUN_ID}\n└── URL: http://h/runs/flow-run/{RUN_ID}"

    assert find_uuid(text, "UUID:") == RUN_ID
    assert find_uuid(text, "/flow-run/") == RUN_ID
    assert find_uuid("no id here", "UUID:") is None
