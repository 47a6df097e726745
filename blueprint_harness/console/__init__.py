"""The `blueprint` command: `blueprint up` (the stack in one terminal), `blueprint check`
(the manifest before any server starts), `blueprint drift` (the manifest against a live
server)."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from blueprint_harness.console import check, drift, up


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="blueprint", description="The Prefect 3 blueprint's stack and checks."
    )
    commands = parser.add_subparsers(dest="command", required=True)
    up.add_parser(commands)
    check.add_parser(commands)
    drift.add_parser(commands)
    args = parser.parse_args(argv)
    code: int = args.run(args)
    return code


if __name__ == "__main__":
    sys.exit(main())
