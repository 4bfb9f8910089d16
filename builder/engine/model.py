"""The engine's plan: the stages to build, each with its steps.

`builder.engine.planning` makes these from the front end's `BuildPlan`. A `Step` is
the front end's `PlannedStep` itself (its typed instruction and what the planner
resolved: env, args, ARG values, `--from` stage, canonical text), wrapped only to say
whether it is a base image's ONBUILD trigger; `builder.engine.dispatch` picks what
runs it by the instruction's type.
"""

from __future__ import annotations

from dataclasses import dataclass

from builder.frontend.instructions.model import Instruction
from builder.frontend.planned import PlannedStep


@dataclass(frozen=True)
class Step:
    """One planned step as the engine runs it. `trigger_line` is set for an ONBUILD
    trigger of the base: BuildKit shows it as `ONBUILD ...` at the stage's FROM line."""

    planned: PlannedStep
    trigger_line: int | None = None

    @property
    def instruction(self) -> Instruction:
        return self.planned.instruction

    @property
    def onbuild(self) -> bool:
        return self.trigger_line is not None

    @property
    def line(self) -> int:
        return self.planned.line if self.trigger_line is None else self.trigger_line

    @property
    def end_line(self) -> int:
        return self.planned.end_line

    @property
    def text(self) -> str:
        """The instruction as written, on one line: progress, errors, history."""
        return self.planned.written


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
