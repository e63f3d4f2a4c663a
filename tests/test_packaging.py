"""Every data file the code reads is declared as package data, so that `pip install .` (not only -e) ships it."""

import fnmatch
import pathlib
import tomllib

ROOT = pathlib.Path(__file__).resolve().parent.parent


def test_every_data_file_is_package_data():
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]
    dirs = project["package-dir"]
    data = project["package-data"]
    for package, patterns in data.items():
        root = package.split(".")
        # the longest package-dir prefix maps the package to its folder
        base = max((k for k in dirs if root[:len(k.split("."))] == k.split(".")), key=len)
        folder = ROOT / dirs[base] / "/".join(root[len(base.split(".")):])
        for path in (folder / "data").glob("*") if (folder / "data").is_dir() else []:
            rel = str(path.relative_to(folder))
            assert any(fnmatch.fnmatch(rel, p) for p in patterns), f"{package}: {rel} is not package data"
    assert "varde.scoring.risk" in data
