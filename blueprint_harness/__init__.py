"""The harness that verifies the Prefect 3 blueprint: everything that does not need pytest.

- `process/`: managed processes (through one xprocess adapter), the janitor, the
  watchdog, bounded waits, diagnostics.
- `backends/`: what each backend runs beside Prefect (SQLite's migrated template, a
  PostgreSQL server, a Redis server), declared once in one table.
- `stack/`: a sandbox (one stack's isolated folders, port and settings), a running stack
  (our own server or one someone else runs, behind the same interfaces), and the clients
  that drive and read it (REST API, CLI, runs, faults).
- `guide/`: what the blueprint guide promises (expectations) and the steps it takes.
- `report/`: what a report says; `ui.py`: the UI checked in a browser; `outside.py`:
  pytest and `blueprint up` run in a subprocess and observed from outside.
- `console/`: the `blueprint` command.

The pytest layer (`fixtures/`) wraps these; `blueprint up` and the benchmarks use them
directly. Nothing here imports pytest.
"""
