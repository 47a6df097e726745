"""The `blueprint` command: `blueprint up` (the stack in one terminal)."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from blueprint_harness.console import up


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="blueprint", description="The Prefect 3 blueprint's stack and checks."
    )
    commands = parser.add_subparsers(dest="command", required=True)
    up.add_parser(commands)
    args = parser.parse_args(argv)
    code: int = args.run(args)
    return code


if __name__ == "__main__":
    sys.exit(main())
