"""Where the product's data folders are: schemas/, templates/ and examples/.

The top-level folders of the repository are the source (edit them there). A wheel ships a copy of each inside
the package, as amsn_batch/data/<name> (pyproject.toml maps them), found with importlib.resources. Running
from the source tree (tests with PYTHONPATH, an editable install), the repository's folders are used, so an
edit shows at once; an installed wheel uses its copy.
"""

from __future__ import annotations

from importlib.resources import files
from pathlib import Path

FOLDERS = ("schemas", "templates", "examples")
_SOURCE_TREE = Path(__file__).resolve().parent.parent  # the repository, when running from it


def folder(name: str) -> Path:
    """The folder `name` (one of FOLDERS): the repository's own when running from the source tree, else the
    copy shipped in the package."""
    if name not in FOLDERS:
        raise ValueError(f"unknown data folder {name!r}")
    source = _SOURCE_TREE / name
    if (_SOURCE_TREE / "pyproject.toml").is_file() and source.is_dir():
        return source
    return Path(str(files(__package__).joinpath("data", name)))
