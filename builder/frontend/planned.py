"""The plan's types: what `builder.frontend.plan.make_plan` returns and the engine runs.

Owns `PlannedStep`, `PlannedStage` and `BuildPlan` (frozen values, re-exported by
`builder.frontend.plan`, whose docstring is their contract). The engine executes them
as they are, dispatching on each step's instruction type: there is no second model.
They live apart from the planner so that the engine, and a plan it unpickles from its
plan cache, need only these and the typed instructions, not the planner's expansion
and scoping code.
"""

from __future__ import annotations

from dataclasses import dataclass

from builder.frontend.instructions.model import From, Instruction

DEFAULT_SHELL = ("/bin/sh", "-c")


def one_line(text: str) -> str:
    """An instruction's text on one line: a continued line's first line, its blanks
    collapsed (what progress and errors show)."""
    return " ".join(text.split("\n", 1)[0].split()) if "\n" in text else text.strip()


@dataclass(frozen=True)
class PlannedStep:
    """One instruction of a planned stage, words expanded, with what it can see.

    `text` is the canonical text (`builder.frontend.dump.canonical_text`); `arg_values`
    (ARG) the value each name takes: its build-arg, else its default, else the value
    in scope (a global ARG's), None when it has none; `history_args` (RUN) the ARGs
    declared in the stage and the stages it builds on, in order, with their values:
    the `|N K=V` of its history `created_by` (BuildKit's `d.buildArgs`)."""

    stage: int
    number: int
    instruction: Instruction
    text: str
    env: tuple[tuple[str, str], ...]
    args: tuple[tuple[str, str], ...]
    shell: tuple[str, ...] = DEFAULT_SHELL
    from_stage: int | None = None  # COPY --from / mount from= an earlier stage
    from_image: str = ""  # ... or an image
    arg_values: tuple[tuple[str, str | None], ...] = ()
    history_args: tuple[tuple[str, str], ...] = ()
    trigger_line: int | None = None  # a base image's ONBUILD trigger: its stage's FROM line

    @property
    def onbuild(self) -> bool:
        """A base image's ONBUILD trigger (BuildKit shows it as `ONBUILD ...` at the
        stage's FROM line)."""
        return self.trigger_line is not None

    @property
    def line(self) -> int:
        return self.instruction.span.line if self.trigger_line is None else self.trigger_line

    @property
    def end_line(self) -> int:
        return self.instruction.span.end_line or self.instruction.span.line

    @property
    def written(self) -> str:
        """The instruction as written, on one line (a continued line's first line, its
        blanks collapsed): what progress and errors show, and the cache record's
        `instruction`."""
        return one_line(self.instruction.original) or self.instruction.keyword


@dataclass(frozen=True)
class PlannedStage:
    """A stage the target needs, with its resolved base and dependencies.

    `arg_names` are the ARGs declared in it and in the stages it builds on, in order
    (what its last RUN's `history_args` list; a stage built on it starts from them)."""

    index: int
    name: str
    base: str | int
    platform: str
    steps: tuple[PlannedStep, ...]
    deps: tuple[int, ...]
    images: tuple[str, ...]
    from_: From
    env: tuple[tuple[str, str], ...] = ()  # ENV at the end of the stage
    arg_names: tuple[str, ...] = ()

    @property
    def from_line(self) -> int:
        return self.from_.span.line

    @property
    def from_text(self) -> str:
        """The stage's FROM as written, on one line (progress and errors)."""
        return one_line(self.from_.original) if self.from_.original else f"FROM {self.base}"


@dataclass(frozen=True)
class BuildPlan:
    """The stages to build, in order, and what the planner found to warn about."""

    stages: tuple[PlannedStage, ...]
    target: int
    warnings: tuple[str, ...]
    unused_build_args: tuple[str, ...]
    meta_args: tuple[tuple[str, str], ...] = ()
    file: str = "Dockerfile"

    def stage(self, index: int) -> PlannedStage:
        return next(s for s in self.stages if s.index == index)
