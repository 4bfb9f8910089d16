"""The builder's exception tree. `BuildError` is the root; `exit_code` says how the
CLI ends (ARCHITECTURE §2: 1 for a failed build step, 2 for usage and Dockerfile errors)."""

from __future__ import annotations

from dataclasses import dataclass


class BuildError(Exception):
    """Root of every error raised by `builder/`."""

    exit_code = 1


class UsageError(BuildError):
    """Bad flags or arguments on the command line."""

    exit_code = 2


@dataclass(frozen=True)
class Span:
    """Where a piece of Dockerfile text sits: 1-based lines and columns, end inclusive."""

    line: int
    column: int = 1
    end_line: int = 0
    end_column: int = 0

    def __str__(self) -> str:
        return f"{self.line}:{self.column}"


class DockerfileError(BuildError):
    """A syntax or semantic error in a Dockerfile, printed as `FILE:LINE:COL: message`."""

    exit_code = 2

    def __init__(
        self,
        message: str,
        span: Span | None = None,
        file: str = "Dockerfile",
        instruction: str = "",
    ) -> None:
        self.message = message
        self.span = span
        self.file = file
        self.instruction = instruction
        super().__init__(self._render())

    def _render(self) -> str:
        where = f"{self.file}:{self.span.line}:{self.span.column}" if self.span else self.file
        what = f"{self.instruction}: " if self.instruction else ""
        return f"{where}: {what}{self.message}"
