"""Typed Dockerfile instructions grouped into stages (ARCHITECTURE §3, stage 2).

Public API (stable):
- `parse_dockerfile(text, file="Dockerfile") -> ParsedDockerfile`: `stages` (each a
  `Stage` with index, lower-cased name, its `From` and its instructions), `meta_args`
  (the ARGs before the first FROM), `directives`, `escape` and lint `warnings`.
- Everything `builder.frontend.instructions.model` exports: the instruction classes
  From, Run, Cmd, Entrypoint, Shell, Env, Label, Arg, Maintainer, Expose, Volume, User,
  Workdir, StopSignal, Copy, Add, Healthcheck, Onbuild (and any added to a family
  module); values Mount, KeyValue (heredocs: `builder.frontend.heredoc`); `KEYWORDS`. Each is frozen and carries
  `span`, `original` (line as written) and `keyword`.

Errors are `DockerfileError` (`FILE:LINE:COL: KEYWORD: message`, exit 2). A stage name
used twice is a warning (BuildKit's DuplicateStageName check), not an error.

The package is a seam (PEP 562): `parse_dockerfile` and its `ParsedDockerfile`, `Stage`
and `Warning` (`instructions.dockerfile`) load the parser on first use, so what only
reads instructions (the engine with a plan from its cache) imports just their classes.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from builder.frontend.instructions.model import *  # noqa: F403 - every instruction class

if TYPE_CHECKING:
    from builder.frontend.instructions import flags as flags
    from builder.frontend.instructions.dockerfile import ParsedDockerfile as ParsedDockerfile
    from builder.frontend.instructions.dockerfile import Stage as Stage
    from builder.frontend.instructions.dockerfile import Warning as Warning
    from builder.frontend.instructions.dockerfile import parse_dockerfile as parse_dockerfile
    from builder.frontend.instructions.mount import Mount as Mount

_PARSED = frozenset({"ParsedDockerfile", "Stage", "Warning", "parse_dockerfile"})


def __getattr__(name: str) -> Any:
    if name == "flags":  # flag syntax: read only when a Dockerfile is parsed
        return importlib.import_module(f"{__name__}.flags")
    if name == "Mount":  # a RUN --mount: loaded with the first plan that has one
        return importlib.import_module(f"{__name__}.mount").Mount
    if name in _PARSED:
        return getattr(importlib.import_module("builder.frontend.instructions.dockerfile"), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
