"""The heredoc value of RUN, COPY and ADD, and `<<-`'s tab stripping (BuildKit's
`ChompHeredocContent`).

A value module: the typed instructions carry `Heredoc`s, so a stored plan needs this
module and nothing of the line parsers that make them (`builder.frontend.lineparsers`).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

_LEADING_TABS = re.compile(r"(?m)^\t+")


@dataclass(frozen=True)
class Heredoc:
    """A heredoc of RUN/COPY/ADD; `content` is the raw body, `data` applies `<<-`."""

    name: str
    content: str
    chomp: bool = False
    expand: bool = True
    fd: int = 0

    @property
    def data(self) -> str:
        return chomp(self.content) if self.chomp else self.content


def chomp(text: str) -> str:
    """Remove leading tabs from every line (what `<<-` does to a body)."""
    return _LEADING_TABS.sub("", text)
