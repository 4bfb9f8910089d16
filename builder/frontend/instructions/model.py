"""Typed Dockerfile instructions: one frozen dataclass per instruction (ARCHITECTURE §3, stage 2).

Every instruction carries `span` (where it is), `original` (the logical line as
written, for history `created_by` and `inspect`) and `keyword` (upper case). Words are
as written (unexpanded) after `parse_dockerfile`; `builder.frontend.plan` returns copies with
the words expanded where Docker expands them (`expand(fn)` on each class: the base
class expands nothing).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field, replace

from builder.errors import Span
from builder.frontend.lineparsers import Heredoc  # the syntax stage's, carried as it is

Expander = Callable[[str], str]


@dataclass(frozen=True)
class Mount:
    """One `RUN --mount=type=...`; `from_` is a stage name/index or image ref."""

    type: str = "bind"
    target: str = ""
    source: str = ""
    from_: str = ""
    id: str = ""
    sharing: str = "shared"
    mode: int | None = None
    uid: int | None = None
    gid: int | None = None
    required: bool = False
    readonly: bool = True
    size: int | None = None
    env: str = ""


@dataclass(frozen=True)
class KeyValue:
    """One ENV or LABEL pair."""

    key: str
    value: str


@dataclass(frozen=True)
class Instruction:
    """Base of every typed instruction: where it is and how it was written."""

    span: Span
    original: str

    keyword = ""

    def expand(self, fn: Expander) -> Instruction:
        return self


@dataclass(frozen=True)
class From(Instruction):
    """`FROM [--platform=P] base [AS name]`."""

    base: str = ""
    name: str = ""  # lower-cased stage name, "" when unnamed
    platform: str = ""
    keyword = "FROM"

    def expand(self, fn: Expander) -> From:
        return replace(
            self, base=fn(self.base), platform=fn(self.platform) if self.platform else ""
        )


@dataclass(frozen=True)
class Run(Instruction):
    """`RUN`: exec form (`exec_form`, argv) or shell form (one string), its flags and heredocs."""

    command: tuple[str, ...] = ()  # exec form: argv; shell form: one string
    exec_form: bool = False
    mounts: tuple[Mount, ...] = ()
    network: str = ""
    security: str = ""
    heredocs: tuple[Heredoc, ...] = ()
    keyword = "RUN"

    def expand(self, fn: Expander) -> Run:
        """RUN's command is left to the shell, but its mount options are expanded."""
        return replace(
            self,
            mounts=tuple(
                replace(m, target=fn(m.target), source=fn(m.source), from_=fn(m.from_), id=fn(m.id))
                for m in self.mounts
            ),
        )


@dataclass(frozen=True)
class Cmd(Instruction):
    """`CMD` in exec or shell form."""

    command: tuple[str, ...] = ()
    exec_form: bool = False
    keyword = "CMD"


@dataclass(frozen=True)
class Entrypoint(Cmd):
    """`ENTRYPOINT` in exec or shell form."""

    keyword = "ENTRYPOINT"


@dataclass(frozen=True)
class Shell(Instruction):
    """`SHELL ["executable", "param"]`."""

    shell: tuple[str, ...] = ()
    keyword = "SHELL"


@dataclass(frozen=True)
class _Pairs(Instruction):
    """Instructions made of key/value pairs."""

    pairs: tuple[KeyValue, ...] = ()

    def expand(self, fn: Expander) -> _Pairs:
        return replace(self, pairs=tuple(KeyValue(fn(p.key), fn(p.value)) for p in self.pairs))


@dataclass(frozen=True)
class Env(_Pairs):
    """`ENV key=value ...` (or the old `ENV key value`)."""

    keyword = "ENV"


@dataclass(frozen=True)
class Label(_Pairs):
    """`LABEL key=value ...`."""

    keyword = "LABEL"


@dataclass(frozen=True)
class Arg(Instruction):
    """`ARG name[=default] ...`; a default of None means none was given."""

    args: tuple[tuple[str, str | None], ...] = ()
    keyword = "ARG"

    def expand(self, fn: Expander) -> Arg:
        return replace(self, args=tuple((k, None if v is None else fn(v)) for k, v in self.args))


@dataclass(frozen=True)
class Maintainer(Instruction):
    """`MAINTAINER name` (deprecated)."""

    maintainer: str = ""
    keyword = "MAINTAINER"


@dataclass(frozen=True)
class Expose(Instruction):
    """`EXPOSE port[/proto] ...`."""

    ports: tuple[str, ...] = ()
    keyword = "EXPOSE"

    def expand(self, fn: Expander) -> Expose:
        return replace(self, ports=tuple(fn(p) for p in self.ports))


@dataclass(frozen=True)
class Volume(Instruction):
    """`VOLUME path ...` or its JSON form."""

    paths: tuple[str, ...] = ()
    keyword = "VOLUME"

    def expand(self, fn: Expander) -> Volume:
        return replace(self, paths=tuple(fn(p) for p in self.paths))


@dataclass(frozen=True)
class _Single(Instruction):
    """Instructions with exactly one argument."""

    value: str = ""

    def expand(self, fn: Expander) -> _Single:
        return replace(self, value=fn(self.value))


@dataclass(frozen=True)
class User(_Single):
    """`USER user[:group]`."""

    keyword = "USER"


@dataclass(frozen=True)
class Workdir(_Single):
    """`WORKDIR path`."""

    keyword = "WORKDIR"


@dataclass(frozen=True)
class StopSignal(_Single):
    """`STOPSIGNAL signal`."""

    keyword = "STOPSIGNAL"


@dataclass(frozen=True)
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


@dataclass(frozen=True)
class Add(Copy):
    """`ADD`: COPY's fields plus `--checksum` and `--keep-git-dir`."""

    checksum: str = ""
    keep_git_dir: bool = False
    keyword = "ADD"


@dataclass(frozen=True)
class Healthcheck(Instruction):
    """`HEALTHCHECK NONE` (`none=True`) or `HEALTHCHECK [opts] CMD ...`. Durations are
    in nanoseconds, as in the image config; 0 means "not set"."""

    none: bool = False
    test: tuple[str, ...] = ()  # ["CMD", argv...] or ["CMD-SHELL", line]
    interval: int = 0
    timeout: int = 0
    start_period: int = 0
    start_interval: int = 0
    retries: int = 0
    keyword = "HEALTHCHECK"


@dataclass(frozen=True)
class Onbuild(Instruction):
    """`ONBUILD` with its trigger; `expression` is the trigger text, never expanded."""

    expression: str = ""
    trigger: Instruction | None = field(default=None, compare=False)
    keyword = "ONBUILD"
