"""What every typed instruction is and shares (ARCHITECTURE §3, stage 2).

Owns `Instruction`: where it is (`span`), how it was written (`original`), its
`keyword` and builder `flags` (name -> "str" | "bool" | "list", BuildKit's BFlags),
and the three things each instruction class says about itself: how it is read from a
syntax node (`parse`, with BuildKit's argument checks), which words the planner
expands (`expand`) and its canonical text, the text a cache key hashes (`canonical`).
A class with its own `keyword` is registered by it (`REGISTRY`), which is how
`builder.frontend.instructions.typed` finds the reader for a node. Also the values
instructions hold (`KeyValue`; a RUN's `Mount` is in `mount`) and the word renderings
canonical texts use.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass, fields
from typing import TYPE_CHECKING, ClassVar, Self

from builder.errors import Span

if TYPE_CHECKING:
    from builder.frontend.instructions.typed import Reader

Expander = Callable[[str], str]
REGISTRY: dict[str, type[Instruction]] = {}  # keyword -> class


@dataclass(frozen=True, repr=False, eq=False)
class Instruction:
    """Base of every typed instruction: where it is and how it was written.

    Every instruction class is declared `@dataclass(frozen=True, repr=False, eq=False)`
    and shares the equality, hash and repr written here, which are what a dataclass
    would generate (same class and equal fields; `Name(field=value, ...)`). A no-op
    rebuild unpickles a plan and so defines every instruction class: generating these
    three again for each class was about a tenth of its CPU time."""

    span: Span
    original: str

    keyword: ClassVar[str] = ""
    flags: ClassVar[Mapping[str, str]] = {}

    def __init_subclass__(cls, **kw: object) -> None:
        super().__init_subclass__(**kw)
        if "keyword" in cls.__dict__ and cls.keyword:
            if not callable(getattr(cls, "parse", None)):
                raise TypeError(f"{cls.__name__} ({cls.keyword}) has no parse()")
            REGISTRY[cls.keyword] = cls

    if TYPE_CHECKING:  # every registered class defines it (checked above)

        @classmethod
        def parse(cls, c: Reader) -> Self:
            """The instruction of one node (its flags checked against `flags`); raises
            `DockerfileError` through `c.error` for arguments BuildKit rejects."""
            ...

    def _values(self) -> tuple[object, ...]:
        """The fields equality and the hash compare (not those with `compare=False`)."""
        return tuple(getattr(self, f.name) for f in fields(self) if f.compare)

    def __eq__(self, other: object) -> bool:
        if other.__class__ is not self.__class__:
            return NotImplemented
        assert isinstance(other, Instruction)
        return self._values() == other._values()

    def __hash__(self) -> int:
        return hash(self._values())

    def __repr__(self) -> str:
        shown = ", ".join(f"{f.name}={getattr(self, f.name)!r}" for f in fields(self) if f.repr)
        return f"{type(self).__qualname__}({shown})"

    def expand(self, fn: Expander) -> Instruction:
        """A copy with its words expanded where Docker expands them: none by default."""
        return self

    def canonical(self) -> str:
        """One line, words as they are (expanded in a plan), flags in a fixed order,
        heredoc bodies appended: the text a cache key hashes."""
        return self.original

    def conversion_error(self) -> str | None:
        """What BuildKit says when it converts this instruction, its words expanded,
        and refuses it (the planner raises it at the instruction's line): None here."""
        return None


@dataclass(frozen=True)
class KeyValue:
    """One ENV or LABEL pair."""

    key: str
    value: str


def word(s: str) -> str:
    """A word as it is, or JSON-quoted when it is empty or holds blanks or quotes."""
    return (
        s
        if s and not any(c.isspace() or c in "\"'\\" for c in s)
        else json.dumps(s, ensure_ascii=False)
    )


def command(argv: tuple[str, ...], exec_form: bool) -> str:
    """Exec form as a JSON array, shell form as its words joined by blanks."""
    if exec_form:
        return json.dumps(list(argv), ensure_ascii=False)
    return " ".join(argv)


def flag(name: str, value: object) -> str:
    """`--name` for True, else `--name=value`."""
    if value is True:
        return f"--{name}"
    return f"--{name}={value}"
