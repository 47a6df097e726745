"""Loads the harness (fixtures/) for every test under this project."""

pytest_plugins = [
    "fixtures.plugin",
    "fixtures.troubleshooting",
    "fixtures.faults",
    "fixtures.ui",
    "fixtures.external_server",
]
