"""Build failures that name the stage, the step, the Dockerfile line, the command and
the exit code, and carry the last lines of the step's output (ARCHITECTURE §2)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from builder.errors import BuildError
from builder.units import binary_size

if TYPE_CHECKING:
    from builder.engine.state import BuildContext
    from builder.frontend.planned import PlannedStage, PlannedStep

TAIL_LINES = 10


class StepError(BuildError):
    """A step failed. `str()` is one line; `tail` holds the last output lines, which
    the build command prints above it."""

    exit_code = 1

    def __init__(
        self,
        *,
        file: str,
        line: int,
        stage: str,
        position: str,
        text: str,
        message: str,
        tail: list[str] | None = None,
        exit_status: int | None = None,
    ) -> None:
        self.file, self.line, self.stage, self.position = file, line, stage, position
        self.text, self.message = text, message
        self.tail = list(tail or [])[-TAIL_LINES:]
        self.exit_status = exit_status
        where = f"{file}:{line}" if line else file
        st = f"stage {stage}, " if stage else ""
        super().__init__(f"{where}: {st}step {position} `{text}`: {message}")

    @classmethod
    def of(
        cls,
        ctx: BuildContext,
        stage: PlannedStage,
        step: PlannedStep,
        position: str,
        message: str,
        tail: list[str] | None = None,
        exit_status: int | None = None,
    ) -> StepError:
        """The failure of `step` of `stage`, placed in the build's Dockerfile."""
        return cls(
            file=ctx.file,
            line=step.line,
            stage=stage.name,
            position=position,
            text=step.written,
            message=message,
            tail=tail,
            exit_status=exit_status,
        )

    def report(self) -> str:
        """BuildKit's block: the failing step and the tail of its output."""
        head = f" > [{self.stage + ' ' if self.stage else ''}{self.position}] {self.text}:"
        body = [f"{i + 1:>4} | {t}" for i, t in enumerate(self.tail)]
        return "\n".join(["------", head, *body, "------"])


def process_message(
    argv: list[str] | tuple[str, ...],
    status: int,
    signal: int = 0,
    oom: bool = False,
    memory_limit: int | None = None,
) -> str:
    cmd = " ".join(argv)
    if oom and memory_limit:
        return (
            f'process "{cmd}" ran out of memory at the {binary_size(memory_limit)} limit and '
            f"was killed (exit code: {status}); raise --memory"
        )
    if oom:
        return f'process "{cmd}" was killed: out of memory (exit code: {status})'
    if signal:
        return f'process "{cmd}" was killed by signal {signal} (exit code: {status})'
    return f'process "{cmd}" did not complete successfully: exit code: {status}'
