"""From syntax `Node`s to typed instructions, with BuildKit's argument checks.

Public API: `typed(node, file) -> Instruction` (raises `DockerfileError` rendered as
`FILE:LINE:COL: KEYWORD: message`, exit 2) and `KEYWORDS`. Each instruction class reads
itself (`Instruction.parse`) from a `Reader`: the node, its flags checked against the
class's `flags`, and the checks and errors the readers share. The class is found by
its keyword (`base.REGISTRY`).
"""

from __future__ import annotations

import difflib
from collections.abc import Mapping
from typing import TYPE_CHECKING

from builder.errors import DockerfileError, Span
from builder.frontend.instructions import model as m
from builder.frontend.instructions.flags import FlagError, parse_flags
from builder.frontend.syntax import Heredoc, Node, parse_heredoc

if TYPE_CHECKING:  # for the checker: defining a TypedDict costs import time
    from typing import TypedDict

    class _Base(TypedDict):
        """The fields every instruction takes from its node (`Reader.base`)."""

        span: Span
        original: str


KEYWORDS = m.KEYWORDS


class Reader:
    """One node as an instruction class reads it."""

    def __init__(self, node: Node, file: str, allowed: Mapping[str, str]) -> None:
        self.node, self.file, self.kw = node, file, node.keyword.upper()
        self.allowed = allowed

    def error(self, message: str) -> DockerfileError:
        return DockerfileError(message, self.node.span, self.file, self.kw)

    def flags(self) -> dict[str, str | bool | list[str]]:
        try:
            return parse_flags(self.allowed, self.node.flags)
        except FlagError as e:
            raise self.error(str(e)) from None

    def base(self) -> _Base:
        return {"span": self.node.span, "original": self.node.original}

    def description(self, name: str) -> str:
        """BuildKit's getComment: the comment above the instruction that starts with
        `name` and a blank, without them (a stage's or an ARG's description)."""
        if not name:
            return ""
        for line in self.node.comments:
            if line.startswith(name + " "):
                return line[len(name) + 1 :]
        return ""

    def at_least(self, n: int) -> tuple[str, ...]:
        args = self.node.args
        if len(args) < n:
            what = "one argument" if n == 1 else "two arguments"
            raise self.error(f"{self.kw} requires at least {what}")
        return args

    def exactly_one(self) -> str:
        if len(self.node.args) != 1:
            raise self.error(f"{self.kw} requires exactly one argument")
        return self.node.args[0]

    def heredoc(self, word: str) -> Heredoc | None:
        """The heredoc a word such as `<<EOF` opens, or None."""
        try:
            return parse_heredoc(word)
        except DockerfileError as e:
            raise self.error(e.message) from None

    def typed(self, node: Node) -> m.Instruction:
        """Another node of the same file (ONBUILD's trigger) as its instruction."""
        return typed(node, self.file)


def _unknown(node: Node, file: str) -> m.Instruction:
    word = node.original.split(None, 1)[0] if node.original.strip() else ""
    hint = difflib.get_close_matches(word.upper(), KEYWORDS, n=1, cutoff=0.6)
    extra = f" (did you mean {hint[0]}?)" if hint else ""
    raise DockerfileError(f"unknown instruction: {word}{extra}", node.span, file)


def typed(node: Node, file: str = "Dockerfile") -> m.Instruction:
    cls = m.REGISTRY.get(node.keyword.upper())
    if cls is None:
        return _unknown(node, file)
    return cls.parse(Reader(node, file, cls.flags))
