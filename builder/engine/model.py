"""The engine's own view of a plan: stages and steps as plain values.

`builder.engine.adapter` makes these from the front end's `BuildPlan`; everything else
in the engine reads only these, so a change in the plan's types touches one module.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

METADATA = frozenset(
    {
        "ENV",
        "LABEL",
        "CMD",
        "ENTRYPOINT",
        "EXPOSE",
        "VOLUME",
        "USER",
        "STOPSIGNAL",
        "HEALTHCHECK",
        "SHELL",
        "ONBUILD",
        "MAINTAINER",
        "ARG",
    }
)


@dataclass(frozen=True)
class RunMount:
    """One `RUN --mount`. type: bind | cache | tmpfs | secret | ssh."""

    type: str
    target: str = ""
    source: str = ""
    from_: str | int | None = None  # stage name/index or image ref for bind/cache
    id: str = ""
    sharing: str = "shared"
    readonly: bool = False
    required: bool = False
    mode: int | None = None
    uid: int | None = None
    gid: int | None = None
    size: int | None = None
    env: str = ""


@dataclass(frozen=True)
class Heredoc:
    """One heredoc of a RUN, COPY or ADD: its name and body."""

    name: str
    data: str
    chomp: bool = False


@dataclass(frozen=True)
class Step:
    """One instruction, expanded. `kind` is the upper-case instruction name; `values`
    holds the kind-specific fields (see adapter.py for each kind)."""

    kind: str
    text: str  # canonical text, shown and hashed: "RUN make"
    line: int = 0
    end_line: int = 0
    env: Mapping[str, str] = field(default_factory=dict)  # ENV + ARG the step sees
    args: Mapping[str, str] = field(default_factory=dict)  # build args in scope
    build_args_ordered: tuple[tuple[str, str], ...] = ()  # for RUN's created_by `|N`
    values: Mapping[str, Any] = field(default_factory=dict)
    onbuild: bool = False
    canonical: str = ""  # the expanded instruction, for the cache key

    def get(self, key: str, default: Any = None) -> Any:
        return self.values.get(key, default)


@dataclass(frozen=True)
class Stage:
    """One build stage: its base, platform, steps and the stages it needs."""

    index: int
    name: str
    base: str | int  # image ref, stage index, or "scratch"
    platform: str
    steps: tuple[Step, ...]
    deps: frozenset[int] = frozenset()
    from_line: int = 0
    from_text: str = ""


@dataclass(frozen=True)
class Plan:
    """What the engine builds: the stages the target needs, in dependency order."""

    stages: tuple[Stage, ...]  # topological order; the last one is the target
    target: int
    file: str = "Dockerfile"
    warnings: tuple[str, ...] = ()  # the front end's (unused build args, lint)
