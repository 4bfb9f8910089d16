"""COPY and ADD: sources (paths, heredocs; ADD also URLs), the destination, and their
flags (`--from`, `--chown`, `--chmod`, `--link`, `--parents`, `--exclude`; ADD's
`--checksum` and `--keep-git-dir`)."""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, cast

from builder.frontend.instructions.base import Expander, Instruction, flag, word

if TYPE_CHECKING:  # the TypedDict is for the checker: defining one costs import time
    from typing import TypedDict

    from builder.frontend.heredoc import Heredoc
    from builder.frontend.instructions.typed import Reader

    class _CopyFields(TypedDict):
        """The fields COPY and ADD share (`Copy.common`)."""

        sources: tuple[str, ...]
        dest: str
        heredocs: tuple[Heredoc, ...]
        chown: str
        chmod: str
        link: bool
        parents: bool
        excludes: tuple[str, ...]
        exec_form: bool


__all__ = ["Add", "Copy"]


@dataclass(frozen=True, repr=False, eq=False)
class Copy(Instruction):
    """COPY (and, through `Add`, ADD). `sources` are paths; heredoc sources are in
    `heredocs` (their names stay in `sources` order via `source_order`)."""

    sources: tuple[str, ...] = ()
    dest: str = ""
    heredocs: tuple[Heredoc, ...] = ()
    from_: str = ""
    chown: str = ""
    chmod: str = ""
    link: bool = False
    parents: bool = False
    excludes: tuple[str, ...] = ()
    exec_form: bool = False
    keyword = "COPY"
    flags = {
        "from": "str",
        "chown": "str",
        "chmod": "str",
        "link": "bool",
        "parents": "bool",
        "exclude": "list",
    }

    @classmethod
    def parse(cls, c: Reader) -> Copy:
        flags = c.flags()
        return cls(**c.base(), from_=str(flags.get("from", "")), **cls.common(c, flags))

    @staticmethod
    def common(c: Reader, flags: dict[str, str | bool | list[str]]) -> _CopyFields:
        args = c.node.args
        if len(args) < 2:
            raise c.error(
                f"{c.kw} requires at least two arguments, but only one was provided. "
                "Destination could not be determined"
            )
        names = {h.name for h in c.node.heredocs}
        sources: list[str] = []
        for w in args[:-1]:
            doc = None if c.node.json else c.heredoc(w)
            if doc is None or doc.name not in names:
                sources.append(w)
        if not c.node.json and (d := c.heredoc(args[-1])) is not None and d.name in names:
            raise c.error("heredoc cannot be the destination")
        return {
            "sources": tuple(sources),
            "dest": args[-1],
            "heredocs": c.node.heredocs,
            "chown": str(flags.get("chown", "")),
            "chmod": str(flags.get("chmod", "")),
            "link": bool(flags.get("link", False)),
            "parents": bool(flags.get("parents", False)),
            # --exclude is a "list" flag, so its value is a list[str]
            "excludes": tuple(cast("list[str]", flags.get("exclude", []))),
            "exec_form": c.node.json,
        }

    def expand(self, fn: Expander) -> Copy:
        return replace(
            self,
            sources=tuple(fn(s) for s in self.sources),
            dest=fn(self.dest),
            from_=fn(self.from_) if self.from_ else "",
            chown=fn(self.chown) if self.chown else "",
            chmod=fn(self.chmod) if self.chmod else "",
            excludes=tuple(fn(e) for e in self.excludes),
        )

    def expand_heredocs(self, raw_fn: Expander) -> Copy:
        """Heredoc bodies not quoted at `<<` get `$VAR`s expanded, quotes kept."""
        return replace(
            self,
            heredocs=tuple(
                replace(h, content=raw_fn(h.content)) if h.expand else h for h in self.heredocs
            ),
        )

    def flag_values(self) -> list[tuple[str, object]]:
        """The flags of the canonical text, in order (before the `--exclude`s)."""
        return [
            ("from", self.from_),
            ("chown", self.chown),
            ("chmod", self.chmod),
            ("link", self.link),
            ("parents", self.parents),
        ]

    def canonical(self) -> str:
        flags = [flag(k, v) for k, v in self.flag_values() if v]
        flags += [flag("exclude", e) for e in self.excludes]
        srcs = [*self.sources, *(f"<<{h.name}" for h in self.heredocs)]
        text = " ".join([self.keyword, *flags, *map(word, srcs), word(self.dest)])
        return text + "".join(f"\n{h.content}{h.name}" for h in self.heredocs)


@dataclass(frozen=True, repr=False, eq=False)
class Add(Copy):
    """`ADD`: COPY's fields plus `--checksum` and `--keep-git-dir`."""

    checksum: str = ""
    keep_git_dir: bool = False
    keyword = "ADD"
    flags = {
        "chown": "str",
        "chmod": "str",
        "link": "bool",
        "checksum": "str",
        "keep-git-dir": "bool",
        "exclude": "list",
        "parents": "bool",
        "unpack": "bool",
    }

    @classmethod
    def parse(cls, c: Reader) -> Add:
        flags = c.flags()
        return cls(
            **c.base(),
            checksum=str(flags.get("checksum", "")),
            keep_git_dir=bool(flags.get("keep-git-dir", False)),
            **cls.common(c, flags),
        )

    def flag_values(self) -> list[tuple[str, object]]:
        return [
            *super().flag_values(),
            ("checksum", self.checksum),
            ("keep-git-dir", self.keep_git_dir),
        ]
