"""The gRPC contract never breaks silently: `buf lint` passes on proto/, and `buf breaking` finds nothing against
the contract as it was on the previous commit (proto/buf.yaml; docs/contract.md#changing-the-contract).

The last tests show, in a throwaway git repository, that the check can fail: an edit of v1 that renumbers a field
or renames an enum value is caught, an added field is not, and a new package gets every lint rule.
"""

from __future__ import annotations

import shutil
import subprocess

import pytest

from tests.contract._tools import ROOT, tool

# Exactly what CI and docs/contract.md run (from the repository root).
AGAINST_PREVIOUS = ".git#ref=HEAD~1,subdir=proto"


def _run(*args: str, cwd=ROOT) -> subprocess.CompletedProcess:
    return subprocess.run(list(args), cwd=cwd, capture_output=True, text=True, timeout=300)


def _git(*args: str, cwd) -> str:
    run = _run("git", "-c", "user.name=contract-test", "-c", "user.email=contract-test@example.invalid",
               "-c", "commit.gpgsign=false", *args, cwd=cwd)
    assert run.returncode == 0, run.stderr
    return run.stdout


def test_lint_passes():
    run = _run(tool("buf"), "lint", "proto")
    assert run.returncode == 0, f"buf lint proto:\n{run.stdout}{run.stderr}"


def test_no_breaking_change_against_the_previous_commit(tmp_path):
    buf = tool("buf")
    if _run("git", "rev-parse", "--is-inside-work-tree").returncode != 0:
        pytest.skip("not a git checkout: no previous commit to compare the contract with")
    if _run("git", "rev-parse", "--verify", "--quiet", "HEAD~1^{commit}").returncode != 0:
        pytest.skip("HEAD has no parent here (the first commit, or a shallow clone: `git fetch --unshallow`); "
                    "nothing to compare the contract with")
    if _run("git", "cat-file", "-e", "HEAD~1:proto/varde/v1").returncode != 0:
        pytest.skip("the previous commit has no proto/varde/v1: the contract is new")
    if (ROOT / ".git").is_dir():
        against = AGAINST_PREVIOUS
    else:  # a git worktree (.git is a file, which buf cannot read): the previous contract, extracted
        archive = _run("git", "archive", "--format=tar", "-o", str(tmp_path / "previous.tar"), "HEAD~1", "proto")
        assert archive.returncode == 0, archive.stderr
        shutil.unpack_archive(tmp_path / "previous.tar", tmp_path)
        against = str(tmp_path / "proto")
    run = _run(buf, "breaking", "proto", "--against", against)
    assert run.returncode == 0, (
        f"buf breaking proto --against {against}: a change that breaks clients of varde.v1 (a breaking change goes "
        f"into a new package, varde.v2; docs/contract.md):\n{run.stdout}{run.stderr}")


@pytest.fixture
def contract_repo(tmp_path):
    """A git repository holding a copy of proto/ (buf.yaml with it) as its first commit."""
    shutil.copytree(ROOT / "proto", tmp_path / "proto", ignore=shutil.ignore_patterns("__pycache__", "*.py"))
    _git("init", "-q", cwd=tmp_path)
    _git("add", "-A", cwd=tmp_path)
    _git("commit", "-q", "-m", "the contract", cwd=tmp_path)
    return tmp_path


def _edit(repo, rel: str, old: str, new: str) -> None:
    path = repo / "proto" / rel
    text = path.read_text()
    assert text.count(old) == 1, f"{old!r} is not in {rel} once"
    path.write_text(text.replace(old, new))
    _git("commit", "-q", "-am", "an edit", cwd=repo)


def _breaking(repo) -> subprocess.CompletedProcess:
    return _run(tool("buf"), "breaking", "proto", "--against", AGAINST_PREVIOUS, cwd=repo)


@pytest.mark.parametrize("rel, old, new, expected", [
    # Wire: a field renumbered reads as the old field deleted (and an unknown field 7 in old clients).
    ("varde/v1/scoring.proto", "  bytes arrow_ipc = 2;\n  // Return only",
     "  bytes arrow_ipc = 7;\n  // Return only", 'field "2" with name "arrow_ipc" on message "ArrowBatch"'),
    # JSON: an enum value's name is what proto3 JSON sends ("state": "OPEN").
    ("varde/v1/flags.proto", "  OPEN = 1;", "  OPENED = 1;",
     'Enum value "1" on enum "FlagState" changed name from "OPEN" to "OPENED"'),
    # JSON and source: a field renamed keeps its number but not its JSON name.
    ("varde/v1/observations.proto", "  optional double spo2 = 4;", "  optional double oxygen_saturation = 4;",
     'Field "4" with name "oxygen_saturation" on message "Observation" changed option "json_name"'),
])
def test_an_edit_that_breaks_v1_is_caught(contract_repo, rel, old, new, expected):
    _edit(contract_repo, rel, old, new)
    run = _breaking(contract_repo)
    assert run.returncode != 0, f"buf breaking let through: {old.strip()!r} -> {new.strip()!r}"
    assert expected in run.stdout, run.stdout + run.stderr


def test_an_added_field_is_not_breaking(contract_repo):
    _edit(contract_repo, "varde/v1/scoring.proto", "  bool results_only = 3;\n",
          "  bool results_only = 3;\n  string client_name = 4;\n")
    run = _breaking(contract_repo)
    assert run.returncode == 0, run.stdout + run.stderr


def test_a_new_package_gets_every_lint_rule(contract_repo):
    """The exceptions in proto/buf.yaml are for varde/v1's shipped names only: varde.v2 is linted in full."""
    v2 = contract_repo / "proto" / "varde" / "v2"
    v2.mkdir()
    (v2 / "flags.proto").write_text('syntax = "proto3";\n\npackage varde.v2;\n\n'
                                    "enum FlagState {\n  FLAG_STATE_UNSPECIFIED = 0;\n  OPEN = 1;\n}\n")
    run = _run(tool("buf"), "lint", "proto", cwd=contract_repo)
    assert run.returncode != 0
    assert 'Enum value name "OPEN" should be prefixed with "FLAG_STATE_"' in run.stdout, run.stdout + run.stderr
