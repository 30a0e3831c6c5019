"""The README's two commands stay true: CI runs exactly the README's test command."""

import re
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def _readme_commands() -> list[str]:
    text = (REPO / "README.md").read_text()
    return re.findall(r"```bash\n(.+?)\n```", text)


def test_ci_runs_the_readme_test_command():
    cmds = _readme_commands()
    assert len(cmds) >= 2
    test_cmd = cmds[1]
    assert "pytest" in test_cmd
    ci_lines = [ln for ln in (REPO / ".ci" / "run").read_text().splitlines() if ln and not ln.startswith("#")]
    assert test_cmd in ci_lines


def test_first_command_analyzes_the_bundled_sample():
    first = _readme_commands()[0]
    m = re.search(r"affectkit analyze (\S+)", first)
    assert m and (REPO / m.group(1)).is_file()
    assert "torch==2.13.0" in first
