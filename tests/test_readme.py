"""The README's Python example runs and says what the README says it prints."""

import contextlib
import io
import pathlib
import re

README = pathlib.Path(__file__).resolve().parent.parent / "README.md"


def test_python_example_runs_and_prints_medium():
    text = README.read_text()
    block = re.search(r"## From Python\n\n```python\n(.*?)```", text, re.S).group(1)
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        exec(compile(block, "README.md", "exec"), {})
    assert '"MEDIUM"' in out.getvalue()


def test_quick_start_has_two_commands_and_ci_runs_the_test_one():
    text = README.read_text()
    block = re.search(r"^## Quick start.*?```bash\n(.*?)```", text, re.S | re.M).group(1)
    lines = [line for line in block.splitlines() if line.strip()]
    assert len(lines) == 2
    assert "pytest" in lines[1]
    ci = (README.parent / ".ci" / "run").read_text()
    assert "pytest" in ci and "Quick start" in ci
