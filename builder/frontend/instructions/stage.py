"""The instructions that shape a stage rather than its image: FROM (its base), ARG (its
build arguments) and ONBUILD (the triggers it leaves for the images built on it)."""

from __future__ import annotations

import re
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING

from builder.frontend.instructions.base import Expander, Instruction, word

if TYPE_CHECKING:
    from builder.frontend.instructions.typed import Reader

__all__ = ["Arg", "From", "Onbuild"]

_STAGE_NAME = r"[a-z][a-z0-9\-_.]*"  # compiled by `re` on first use: a no-op reads no names


@dataclass(frozen=True, repr=False, eq=False)
class From(Instruction):
    """`FROM [--platform=P] base [AS name]`."""

    base: str = ""
    name: str = ""  # lower-cased stage name, "" when unnamed
    platform: str = ""
    description: str = field(default="", compare=False)  # `# NAME text` above it
    keyword = "FROM"
    flags = {"platform": "str"}

    @classmethod
    def parse(cls, c: Reader) -> From:
        flags = c.flags()
        args = c.node.args
        if len(args) not in (1, 3) or (len(args) == 3 and args[1].lower() != "as"):
            raise c.error("FROM requires either one or three arguments")
        name = args[2].lower() if len(args) == 3 else ""
        if len(args) == 3 and not re.fullmatch(_STAGE_NAME, name):
            raise c.error(
                f'invalid name for build stage: "{args[2]}", name can\'t start with a '
                "number or contain symbols"
            )
        return cls(
            **c.base(),
            base=args[0],
            name=name,
            platform=str(flags.get("platform", "")),
            description=c.description(name),  # BuildKit matches the lower-cased name
        )

    def expand(self, fn: Expander) -> From:
        return replace(
            self, base=fn(self.base), platform=fn(self.platform) if self.platform else ""
        )

    def canonical(self) -> str:
        plat = f"--platform={self.platform} " if self.platform else ""
        return f"FROM {plat}{self.base}" + (f" AS {self.name}" if self.name else "")


@dataclass(frozen=True, repr=False, eq=False)
class Arg(Instruction):
    """`ARG name[=default] ...`; a default of None means none was given."""

    args: tuple[tuple[str, str | None], ...] = ()
    descriptions: tuple[str, ...] = field(default=(), compare=False)  # per name, as From's
    keyword = "ARG"

    @classmethod
    def parse(cls, c: Reader) -> Arg:
        c.flags()
        out = []
        for w in c.at_least(1):
            key, eq, value = w.partition("=")
            if not key:
                raise c.error("ARG names can not be blank")
            out.append((key, value if eq else None))
        return cls(
            **c.base(), args=tuple(out), descriptions=tuple(c.description(k) for k, _ in out)
        )

    def expand(self, fn: Expander) -> Arg:
        return replace(self, args=tuple((k, None if v is None else fn(v)) for k, v in self.args))

    def canonical(self) -> str:
        return self.keyword + "".join(
            f" {k}" if v is None else f" {k}={word(v)}" for k, v in self.args
        )


@dataclass(frozen=True, repr=False, eq=False)
class Onbuild(Instruction):
    """`ONBUILD` with its trigger; `expression` is the trigger text, never expanded."""

    expression: str = ""
    trigger: Instruction | None = field(default=None, compare=False)
    keyword = "ONBUILD"

    @classmethod
    def parse(cls, c: Reader) -> Onbuild:
        c.flags()
        sub = c.node.sub
        if sub is None:
            raise c.error("ONBUILD requires at least one argument")
        kw = sub.keyword.upper()
        if kw == "ONBUILD":
            raise c.error("Chaining ONBUILD via `ONBUILD ONBUILD` isn't allowed")
        if kw in ("FROM", "MAINTAINER"):
            raise c.error(f"{kw} isn't allowed as an ONBUILD trigger")
        return cls(**c.base(), expression=sub.original, trigger=c.typed(sub))

    def canonical(self) -> str:
        return f"ONBUILD {self.expression}"
