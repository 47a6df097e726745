"""The product's shape: the core works without pytest, and only the plugin knows it."""

from __future__ import annotations

import ast
import json
import subprocess
import sys
from pathlib import Path

import pytest

import blueprint_harness

pytestmark = pytest.mark.unit

CORE = Path(blueprint_harness.__file__).parent
# What only the test extra installs: the core must need none of it to import (the UI
# checks import Playwright when they run), and must never name pytest.
TEST_ONLY = ("pytest", "_pytest", "py", "xprocess", "pytest_prefect_blueprint", "playwright")
PYTEST = ("pytest", "_pytest", "py", "xprocess", "pytest_prefect_blueprint")

IMPORT_EVERY_MODULE = """
import importlib, json, pkgutil, sys

class Blocked:
    def find_spec(self, name, path=None, target=None):
        if name.split(".")[0] in BLOCKED:
            raise ImportError(f"{name} is blocked: the core must not need it")

BLOCKED = set(sys.argv[1].split(","))
sys.meta_path.insert(0, Blocked())
import blueprint_harness
names = [m.name for m in pkgutil.walk_packages(blueprint_harness.__path__, "blueprint_harness.")]
for name in names:
    importlib.import_module(name)
print(json.dumps({"imported": names, "loaded": sorted(set(m.split(".")[0] for m in sys.modules))}))
"""


def test_every_core_module_imports_with_pytest_and_the_test_extra_blocked():
    result = subprocess.run(
        [sys.executable, "-c", IMPORT_EVERY_MODULE, ",".join(TEST_ONLY)],
        capture_output=True,
        text=True,
        check=False,
        timeout=120,
    )

    assert result.returncode == 0, result.stderr[-3000:]
    seen = json.loads(result.stdout.splitlines()[-1])
    assert len(seen["imported"]) >= len(list(CORE.rglob("*.py"))) - 1  # sitecustomize: its own
    assert not set(seen["loaded"]) & set(TEST_ONLY)


def test_no_core_module_names_pytest_in_its_imports():
    offenders = []
    for path in CORE.rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            names = []
            if isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
                names = [node.module]
            offenders += [f"{path}: {n}" for n in names if n.split(".")[0] in PYTEST]

    assert offenders == []
