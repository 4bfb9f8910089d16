"""The instructions that set fields of the image config from their words: ENV, LABEL,
EXPOSE, VOLUME, USER, WORKDIR, STOPSIGNAL and MAINTAINER."""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import TYPE_CHECKING

from builder.frontend.instructions.base import Expander, Instruction, KeyValue, word
from builder.frontend.ports import PortSpecError, parse_port_specs
from builder.frontend.signals import signal_error

if TYPE_CHECKING:
    from builder.frontend.instructions.typed import Reader

__all__ = ["Env", "Expose", "Label", "Maintainer", "StopSignal", "User", "Volume", "Workdir"]


@dataclass(frozen=True, repr=False, eq=False)
class _Pairs(Instruction):
    """Instructions made of key/value pairs. A subclass that adds no field (ENV, LABEL)
    is a plain subclass: it inherits `__init__` and the frozen `__setattr__` (the shared
    equality compares the class too), and saves making them again at every start."""

    pairs: tuple[KeyValue, ...] = ()

    @classmethod
    def parse(cls, c: Reader) -> _Pairs:
        c.flags()
        args = c.at_least(1)
        pairs = tuple(KeyValue(args[i], args[i + 1]) for i in range(0, len(args) - 2, 3))
        if any(not p.key for p in pairs):
            raise c.error(f"{c.kw} names can not be blank")
        return cls(**c.base(), pairs=pairs)

    def expand(self, fn: Expander) -> _Pairs:
        return replace(self, pairs=tuple(KeyValue(fn(p.key), fn(p.value)) for p in self.pairs))

    def canonical(self) -> str:
        return self.keyword + "".join(f" {word(p.key)}={word(p.value)}" for p in self.pairs)


class Env(_Pairs):
    """`ENV key=value ...` (or the old `ENV key value`)."""

    keyword = "ENV"


class Label(_Pairs):
    """`LABEL key=value ...`."""

    keyword = "LABEL"


@dataclass(frozen=True, repr=False, eq=False)
class Maintainer(Instruction):
    """`MAINTAINER name` (deprecated)."""

    maintainer: str = ""
    keyword = "MAINTAINER"

    @classmethod
    def parse(cls, c: Reader) -> Maintainer:
        c.flags()
        return cls(**c.base(), maintainer=c.exactly_one())

    def canonical(self) -> str:
        return f"MAINTAINER {self.maintainer}"


@dataclass(frozen=True, repr=False, eq=False)
class Expose(Instruction):
    """`EXPOSE port[/proto] ...`."""

    ports: tuple[str, ...] = ()
    keyword = "EXPOSE"

    @classmethod
    def parse(cls, c: Reader) -> Expose:
        c.flags()
        return cls(**c.base(), ports=c.at_least(1))

    def expand(self, fn: Expander) -> Expose:
        return replace(self, ports=tuple(fn(p) for p in self.ports))

    def canonical(self) -> str:
        return " ".join([self.keyword, *self.ports])

    def conversion_error(self) -> str | None:
        try:
            parse_port_specs(self.ports)
        except PortSpecError as e:
            return str(e)
        return None


@dataclass(frozen=True, repr=False, eq=False)
class Volume(Instruction):
    """`VOLUME path ...` or its JSON form."""

    paths: tuple[str, ...] = ()
    keyword = "VOLUME"

    @classmethod
    def parse(cls, c: Reader) -> Volume:
        c.flags()
        paths = c.at_least(1)
        if any(not p.strip() for p in paths):
            raise c.error("VOLUME specified can not be an empty string")
        return cls(**c.base(), paths=paths)

    def expand(self, fn: Expander) -> Volume:
        return replace(self, paths=tuple(fn(p) for p in self.paths))

    def canonical(self) -> str:
        return " ".join([self.keyword, *map(word, self.paths)])

    def conversion_error(self) -> str | None:
        if any(p == "" for p in self.paths):  # a word that expanded to nothing
            return "VOLUME specified can not be an empty string"
        return None


@dataclass(frozen=True, repr=False, eq=False)
class _Single(Instruction):
    """Instructions with exactly one argument (a plain subclass each, as `_Pairs`')."""

    value: str = ""

    @classmethod
    def parse(cls, c: Reader) -> _Single:
        c.flags()
        return cls(**c.base(), value=c.exactly_one())

    def expand(self, fn: Expander) -> _Single:
        return replace(self, value=fn(self.value))

    def canonical(self) -> str:
        return f"{self.keyword} {self.value}"


class User(_Single):
    """`USER user[:group]`."""

    keyword = "USER"


class Workdir(_Single):
    """`WORKDIR path`."""

    keyword = "WORKDIR"


class StopSignal(_Single):
    """`STOPSIGNAL signal`."""

    keyword = "STOPSIGNAL"

    def conversion_error(self) -> str | None:
        return signal_error(self.value)
