"""Reading the README's command blocks, for the tests that run them."""

from __future__ import annotations

import re
from pathlib import Path

from tests.fixtures.common import REPO


def section(name: str, readme: Path = REPO / "README.md") -> str:
    text = readme.read_text()
    return text.split(f"\n## {name}\n", 1)[1].split("\n## ", 1)[0]


def sh_blocks(name: str, readme: Path = REPO / "README.md") -> list[str]:
    """The ```sh code blocks of a README section, in order."""
    return re.findall(r"```sh\n(.*?)```", section(name, readme), re.S)


def commands(block: str) -> list[str]:
    """A block's commands: its non-empty lines without trailing comments."""
    out = []
    for line in block.splitlines():
        line = re.sub(r"\s+#.*$", "", line).strip()
        if line and not line.startswith("#"):
            out.append(line)
    return out
