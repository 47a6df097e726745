"""`blueprint check`: the manifest checked before any server starts (seconds). Exits 1
naming each mistake by file, deployment and field."""

from __future__ import annotations

import argparse
from pathlib import Path

from blueprint_harness.manifest.check import check_manifest
from blueprint_harness.manifest.declared import MANIFEST


def add_parser(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = commands.add_parser("check", help="check the manifest before deploying")
    parser.add_argument("--project-dir", type=Path, default=Path.cwd())
    parser.add_argument("--manifest", default=MANIFEST)
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    checked = check_manifest(args.project_dir.resolve(), args.manifest)
    print(checked.describe())
    return 0 if checked.ok else 1
