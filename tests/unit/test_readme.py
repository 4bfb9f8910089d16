"""The README's test command is the one CI runs."""

from tests.fixtures.common import REPO


def test_ci_runs_the_readme_test_command() -> None:
    readme = (REPO / "README.md").read_text()
    ci = (REPO / ".ci" / "run").read_text()
    block = readme.split("## Test", 1)[1].split("```sh", 1)[1].split("```", 1)[0].strip()
    assert block == "python3 -m pytest -q tests"
    assert block in ci.splitlines()
