"""Benchmarks (not tests): each script prints its figures beside a floor measured in the same run."""

from __future__ import annotations

import compileall
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def as_installed() -> None:
    """Compile the package's bytecode, as installing the wheel does (pip compiles every module): a measured
    `amsn-batch` then starts as it does in production, not compiling its ~80 modules from source on every
    start (0.2 s here, where PYTHONDONTWRITEBYTECODE is set and nothing is ever cached)."""
    compileall.compile_dir(ROOT / "amsn_batch", quiet=1)
    # One start before any measure: the first process after an install reads pandas', pyarrow's and numpy's
    # libraries from disk (0.5 s more for the first file measured, a 10k-row file: 1.75 s instead of 1.23 s).
    subprocess.run([sys.executable, "-m", "amsn_batch", "--help"], check=True, capture_output=True)
    subprocess.run([sys.executable, "-c", "import amsn_batch.pipeline, amsn_batch.kinds, amsn_batch.reports.rejects"],
                   check=True, cwd=ROOT)
