"""The gate CI runs (scripts/test): every part of `GATE` (blueprint_harness/markers.py) in
order, each run even when an earlier one failed; prints each part's time and exits 1 if
any failed.

    BLUEPRINT_ARTIFACTS=dir      keep each pytest part's logs, HTML report and JUnit XML
    BLUEPRINT_OTHER_PYTHONS=...  the other Pythons' parts to run (default: all; "" none)

    .venv/bin/python scripts/gate.py            # the gate
    .venv/bin/python scripts/gate.py --table    # README's CI table, made from GATE
"""

from __future__ import annotations

import argparse
import glob
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from blueprint_harness.markers import GATE, Part

BIN = ROOT / ".venv" / "bin"


def table() -> str:
    """README's CI table: each part, what it runs, and why."""
    lines = ["| part | runs | on | why |", "|---|---|---|---|"]
    for part in GATE:
        if part.script:
            runs, on = f"`{part.script}`", ""
        else:
            runs = f'`-m "{part.selection}"`' if part.selection else "every test"
            on = part.backend or "the default (SQLite)"
            on += f", Python {part.python} (tox)" if part.python else ""
        lines.append(f"| {part.name} | {runs} | {on} | {part.why} |")
    return "\n".join(lines)


def kept(name: str) -> list[str]:
    """pytest options that keep a part's outputs under $BLUEPRINT_ARTIFACTS."""
    artifacts = os.environ.get("BLUEPRINT_ARTIFACTS")
    if not artifacts:
        return []
    folder = Path(artifacts) / name.replace(" ", "-")
    folder.mkdir(parents=True, exist_ok=True)
    return [
        f"--prefect-log-dir={folder / 'logs'}",
        f"--junitxml={folder / 'junit.xml'}",
        f"--prefect-report={folder / 'report.html'}",
        f"--prefect-summary={folder / 'summary.md'}",
    ]


def python_folder(version: str) -> str | None:
    """Where Python `version` is: on PATH, or in pyenv."""
    candidates = [shutil.which(f"python{version}") or ""]
    pyenv = Path(os.environ.get("PYENV_ROOT", Path.home() / ".pyenv"))
    candidates += sorted(glob.glob(str(pyenv / "versions" / f"{version}*" / "bin" / "python*")))
    for candidate in candidates:
        if candidate and subprocess.run([candidate, "-c", "pass"], check=False).returncode == 0:
            return str(Path(candidate).parent)
    return None


def command(part: Part) -> tuple[list[str], dict[str, str]] | str:
    """How to run `part` (its command and environment), or why it cannot run here."""
    env = dict(os.environ)
    if part.script:
        script, *arguments = part.script.split()
        runner = [str(BIN / "python")] if script.endswith(".py") else []
        return [*runner, str(ROOT / script), *arguments], env
    selection = ["-m", part.selection] if part.selection else []
    if part.python is None:
        backend = [f"--prefect-backend={part.backend}"] if part.backend else []
        options = [*selection, *backend, *kept(part.name)]
        return [str(BIN / "pytest"), *options], env
    folder = python_folder(part.python)
    if folder is None:
        return (
            f"Python {part.python} is not installed here: install it (pyenv install "
            f"{part.python}, or apt-get install python{part.python}), or leave it out of "
            "BLUEPRINT_OTHER_PYTHONS"
        )
    env["PATH"] = f"{folder}{os.pathsep}{env['PATH']}"
    tox_env = "py" + part.python.replace(".", "")
    return [str(BIN / "tox"), "-e", tox_env, "--", *selection], env


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--table", action="store_true", help="print README's CI table")
    args = parser.parse_args()
    if args.table:
        print(table())
        return 0
    wanted = os.environ.get("BLUEPRINT_OTHER_PYTHONS")
    pythons = None if wanted is None else set(wanted.split())
    failed, timings = [], []
    for part in GATE:
        if part.python is not None and pythons is not None and part.python not in pythons:
            continue
        how = command(part)
        began = time.monotonic()
        if isinstance(how, str):
            print(f"\n=== {part.name}: cannot run: {how}", flush=True)
            ok = False
        else:
            argv, env = how
            print(f"\n=== {part.name}: {' '.join(argv)}", flush=True)
            ok = subprocess.run(argv, cwd=ROOT, env=env, check=False).returncode == 0
        verdict = "passed" if ok else "FAILED"
        timings.append(f"{part.name:28} {verdict:7} {time.monotonic() - began:5.0f} s")
        if not ok:
            failed.append(part.name)
    print("\n=== parts", *timings, sep="\n")
    if failed:
        print(f"\nFAILED: {', '.join(failed)}")
        return 1
    print("\nAll parts passed.")
    return 0


if __name__ == "__main__":
    sys.exit(main())
