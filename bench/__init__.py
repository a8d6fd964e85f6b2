"""Benchmarks (not tests): each script prints its figures beside a floor measured in the same run."""

from __future__ import annotations

import compileall
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def as_installed() -> None:
    """Compile the package's bytecode, as installing the wheel does (pip compiles every module): a measured
    `amsn-batch` then starts as it does in production, not compiling its ~80 modules from source on every
    start (0.2 s here, where PYTHONDONTWRITEBYTECODE is set and nothing is ever cached)."""
    compileall.compile_dir(ROOT / "amsn_batch", quiet=1)
