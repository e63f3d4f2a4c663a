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


def test_every_data_folder_belongs_to_a_package_with_package_data():
    """A `data/` folder in a package that declares no package data would be left out of the wheel."""
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]
    declared = set(project["package-data"])
    for top, package in (("scoring", "varde.scoring"), ("server", "varde.server"), ("clients", "varde.clients")):
        for folder in (ROOT / top).rglob("data"):
            if folder.is_dir() and "node_modules" not in folder.parts and any(folder.iterdir()):
                parts = folder.parent.relative_to(ROOT / top).parts
                name = ".".join((package, *parts))
                assert name in declared, f"{folder.relative_to(ROOT)}: add {name!r} to package-data"
    assert "varde.server.flags" in declared
