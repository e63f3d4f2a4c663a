"""Where the contract tests find buf, node and the Node client's modules: on PATH and NODE_PATH, or in .ci-node/
(`npm install --prefix .ci-node ...`, as .ci/run does). Missing, a test skips on a developer's machine and fails in
CI (CI is set there, and .ci/run installs them), so that the contract checks never go quietly unrun."""

from __future__ import annotations

import os
import pathlib
import shutil

import pytest

ROOT = pathlib.Path(__file__).resolve().parent.parent.parent
CI_NODE = ROOT / ".ci-node" / "node_modules"
INSTALL = ("npm install --prefix .ci-node @bufbuild/buf @grpc/grpc-js @grpc/proto-loader apache-arrow "
           "(the pinned versions are in .ci/run)")


def missing(reason: str):
    """Skip, or fail in CI, where a missing tool is an install step that broke."""
    if os.environ.get("CI"):
        pytest.fail(f"{reason}; .ci/run installs it, so the install failed")
    pytest.skip(f"{reason}; install with: {INSTALL}")


def tool(name: str) -> str:
    found = shutil.which(name) or shutil.which(name, path=str(CI_NODE / ".bin"))
    if found is None:
        missing(f"{name} is not installed (not on PATH nor in .ci-node/node_modules/.bin)")
    return found


def node_path() -> str:
    """NODE_PATH for the Node client: what the environment has, then .ci-node's modules."""
    parts = [p for p in os.environ.get("NODE_PATH", "").split(os.pathsep) if p]
    return os.pathsep.join([*parts, str(CI_NODE)])
