"""Loads the harness plugin (fixtures/) for every test under this project."""

pytest_plugins = ["fixtures.plugin"]
