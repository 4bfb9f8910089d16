"""Typed Dockerfile instructions grouped into stages (ARCHITECTURE §3, stage 2).

Public API (stable):
- `parse_dockerfile(text, file="Dockerfile") -> ParsedDockerfile`: `stages` (each a
  `Stage` with index, lower-cased name, its `From` and its instructions), `meta_args`
  (the ARGs before the first FROM), `directives`, `escape` and lint `warnings`.
- Everything `builder.frontend.instructions.model` exports: the instruction classes
  From, Run, Cmd, Entrypoint, Shell, Env, Label, Arg, Maintainer, Expose, Volume, User,
  Workdir, StopSignal, Copy, Add, Healthcheck, Onbuild (and any added to a family
  module); values Mount, Heredoc, KeyValue; `KEYWORDS`. Each is frozen and carries
  `span`, `original` (line as written) and `keyword`.

Errors are `DockerfileError` (`FILE:LINE:COL: KEYWORD: message`, exit 2). A stage name
used twice is a warning (BuildKit's DuplicateStageName check), not an error.

The package is a seam (PEP 562): `parse_dockerfile` (`instructions.dockerfile`) loads
the parser on first use, so what only reads instructions (the engine with a plan from
its cache) imports just the instruction classes.
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from builder.errors import Span
from builder.frontend.instructions.model import *  # noqa: F403 - every instruction class
from builder.frontend.instructions.model import Arg, From, Instruction

if TYPE_CHECKING:
    from builder.frontend.instructions.dockerfile import parse_dockerfile as parse_dockerfile


@dataclass(frozen=True)
class Warning:  # mirrors BuildKit's lint warning, not the builtin
    """A lint finding (`FILE:LINE: Rule: message`), never an error."""

    rule: str
    message: str
    span: Span
    file: str = "Dockerfile"

    def __str__(self) -> str:
        return f"{self.file}:{self.span.line}: {self.rule}: {self.message}"


@dataclass(frozen=True)
class Stage:
    """One `FROM` and the instructions up to the next."""

    index: int
    name: str
    from_: From
    commands: tuple[Instruction, ...]

    @property
    def base(self) -> str:
        return self.from_.base

    @property
    def platform(self) -> str:
        return self.from_.platform


@dataclass(frozen=True)
class ParsedDockerfile:
    """Typed stages plus the ARGs before the first FROM."""

    file: str
    stages: tuple[Stage, ...]
    meta_args: tuple[Arg, ...]
    directives: tuple = ()
    escape: str = "\\"
    warnings: tuple[Warning, ...] = ()


def __getattr__(name: str) -> Any:
    if name == "parse_dockerfile":
        return importlib.import_module("builder.frontend.instructions.dockerfile").parse_dockerfile
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
