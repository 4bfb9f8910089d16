"""The README's Quickstart is exactly two
commands (install + build, then the test suite CI runs), its sections exist, and the
CLI reference names every flag of every verb."""

from __future__ import annotations

import re

from builder.commands.completion import verb_flags
from tests.unit.cli.readme import REPO, commands, section, sh_blocks


def test_quickstart_is_exactly_two_commands() -> None:
    blocks = sh_blocks("Quickstart")
    assert len(blocks) == 1
    first, second = commands(blocks[0])  # exactly two
    assert first == "bash scripts/quickstart.sh"
    assert (REPO / "scripts" / "quickstart.sh").is_file()
    # the second is CI's entry point, which runs the README's test command
    assert second == "bash .ci/run"
    test_cmd = commands(sh_blocks("Test")[0])
    assert test_cmd == ["python3 -m pytest -q tests"]
    assert test_cmd[0] in (REPO / ".ci" / "run").read_text().splitlines()


def test_readme_has_the_newcomer_sections() -> None:
    text = (REPO / "README.md").read_text()
    heads = re.findall(r"^## (.+)$", text, re.M)
    assert heads == [
        "Quickstart",
        "Tutorial",
        "CLI reference",
        "Troubleshooting",
        "Architecture",
        "Test",
    ]
    intro = text.split("\n## ", 1)[0]
    assert "```" in intro  # the data-flow picture
    arch = section("Architecture")
    for module in (
        "builder/cli.py",
        "builder/engine/",
        "builder/sandbox/",
        "store/",
        "registry_client/",
        "builder/inspect/",
        "builder/progress.py",
    ):
        assert module in arch
        assert (REPO / module).exists(), module


def test_cli_reference_names_every_verb_and_flag() -> None:
    ref = (REPO / "docs" / "cli.md").read_text()
    for verb, (flags, _) in verb_flags().items():
        body = ref.split(f"\n## pybuild {verb}\n", 1)[1].split("\n## ", 1)[0]
        for flag in flags:
            assert re.search(rf"(?<![\w-]){re.escape(flag)}(?![\w-])", body), (
                f"docs/cli.md lacks {verb} {flag}: python3 scripts/cli_reference.py > docs/cli.md"
            )
    assert "[docs/cli.md](docs/cli.md)" in section("CLI reference")


def test_troubleshooting_quotes_real_messages() -> None:
    """The messages the table quotes are the ones the code raises."""
    trouble = section("Troubleshooting")
    sources = {
        "overlayfs is not supported on the store's filesystem": "store/overlay.py",
        "overlayfs is not supported by this kernel": "store/overlay.py",
        "user namespaces are disabled: sysctl -w user.max_user_namespaces=15000": (
            "builder/sandbox/namespaces.py"
        ),
        "cannot resolve host": "registry_client/transport.py",
        "cannot connect to": "registry_client/transport.py",
        "internal error": "builder/cli.py",
    }
    for message, path in sources.items():
        assert message in trouble, message
        # adjacent string literals joined, as Python joins them
        source = re.sub(r"\"\s*\n\s*f?\"", "", (REPO / path).read_text())
        assert message in source, (message, path)


def test_progress_json_doc_example_validates() -> None:
    import json

    from jsonschema import Draft202012Validator

    doc = (REPO / "docs" / "progress.md").read_text()
    schema = json.loads((REPO / "builder" / "progress_schema.json").read_text())
    example = re.findall(r"```json\n(.*?)```", doc, re.S)[0].splitlines()
    events = [json.loads(line) for line in example]
    for ev in events:
        Draft202012Validator(schema).validate(ev)
    documented = set(re.findall(r"^\| `(\w+)` \|", doc, re.M)) - {"event"}
    assert documented == set(schema["properties"]["event"]["enum"])
    assert "[docs/progress.md](docs/progress.md)" in section("CLI reference")
