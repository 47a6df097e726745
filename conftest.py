"""The harness's pytest plugin (fixtures/plugin.py) is registered once, as the package's
`pytest11` entry point, so every pytest session in the venv gets it exactly as users do:
this project's own tests, and the sessions its tests start in a subprocess."""
