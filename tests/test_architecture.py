"""The shape of the house, checked: SQL only in the store, imports pointing down the layers (import-linter's
contracts in pyproject.toml), no import hidden inside a function to dodge a cycle."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

PACKAGE = Path(__file__).resolve().parent.parent / "amsn_batch"
SQL_CALLS = {"execute", "executemany", "executescript"}

# Modules allowed to import some of the product lazily, and why (start-up time, never a cycle: the import
# contracts prove the direction).
LAZY_PRODUCT_IMPORTS = {
    "cli.py": "each command loads the module it calls, so that --help and a usage error do not pay for pandas",
    "reports/rejects.py": "the child process that writes a big file's workbook must start without pandas, which "
                          "read/ loads: the reader is imported where the plan is made, in the parent",
}


def _modules():
    for path in sorted(PACKAGE.rglob("*.py")):
        yield path.relative_to(PACKAGE).as_posix(), ast.parse(path.read_text(encoding="utf-8"))


def test_no_sql_outside_the_store():
    found = []
    for name, tree in _modules():
        if name.startswith("store/"):
            continue
        for node in ast.walk(tree):
            if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.func.attr in SQL_CALLS:
                found.append(f"{name}:{node.lineno} .{node.func.attr}()")
    assert found == []


def _imports_inside_functions(tree: ast.AST):
    for node in ast.walk(tree):
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            for sub in ast.walk(node):
                if isinstance(sub, ast.ImportFrom):
                    yield sub.lineno, sub.level > 0 or (sub.module or "").startswith("amsn_batch")
                elif isinstance(sub, ast.Import):
                    yield sub.lineno, any(a.name.startswith("amsn_batch") for a in sub.names)


def test_no_product_import_inside_a_function():
    found = [f"{name}:{line}" for name, tree in _modules() if name not in LAZY_PRODUCT_IMPORTS
             for line, product in _imports_inside_functions(tree) if product]
    assert found == []


def test_import_contracts_are_kept():
    lint = Path(sys.executable).with_name("lint-imports")
    proc = subprocess.run([str(lint), "--no-cache"], capture_output=True, text=True, cwd=PACKAGE.parent, timeout=600)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "Contracts: 2 kept, 0 broken." in proc.stdout
