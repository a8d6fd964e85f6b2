"""The wheel ships every package and data folder (scripts/wheel-check builds and runs the real thing)."""

import tomllib
from pathlib import Path

from amsn_batch import resources

ROOT = Path(__file__).resolve().parent.parent


def test_every_code_package_is_listed_for_the_wheel():
    setup = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["tool"]["setuptools"]
    on_disk = {".".join(p.parent.relative_to(ROOT).parts) for p in (ROOT / "amsn_batch").rglob("__init__.py")}
    assert on_disk <= set(setup["packages"]), "pyproject.toml [tool.setuptools] packages: add the new package"
    for folder in resources.FOLDERS:
        assert setup["package-dir"][f"amsn_batch.data.{folder}"] == folder


def test_the_source_tree_uses_its_own_data_folders():
    for folder in resources.FOLDERS:
        assert resources.folder(folder) == ROOT / folder
