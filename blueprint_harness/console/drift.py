"""`blueprint drift`: does a live server still hold what the manifest declares? Read-only;
prints each difference and exits 1 when there is any (0: none, 2: cannot tell)."""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

from blueprint_harness.manifest.declared import MANIFEST
from blueprint_harness.manifest.drift import drift
from blueprint_harness.stack.api import ApiError, ApiUnavailable, PrefectApi


def add_parser(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = commands.add_parser("drift", help="compare the manifest with a live server")
    parser.add_argument(
        "--prefect-api-url",
        default=os.environ.get("PREFECT_API_URL"),
        help="the server's API (default: $PREFECT_API_URL)",
    )
    parser.add_argument("--project-dir", type=Path, default=Path.cwd())
    parser.add_argument("--manifest", default=MANIFEST)
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    if not args.prefect_api_url:
        print("blueprint drift: give --prefect-api-url (or set PREFECT_API_URL)", file=sys.stderr)
        return 2
    api = PrefectApi(
        args.prefect_api_url,
        retry_seconds=10.0,
        auth_string=os.environ.get("PREFECT_API_AUTH_STRING"),
        api_key=os.environ.get("PREFECT_API_KEY"),
    )
    try:
        report = drift(api, args.project_dir.resolve(), args.manifest)
    except (ApiError, ApiUnavailable, OSError, ValueError) as error:
        print(f"blueprint drift: {error}", file=sys.stderr)
        return 2
    finally:
        api.close()
    print(report.describe())
    return 1 if report.differences else 0
