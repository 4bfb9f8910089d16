"""Sandbox errors: setup problems (with what to do) and failed or killed steps."""

from __future__ import annotations

from typing import TYPE_CHECKING

from builder.errors import BuildError
from builder.units import binary_size

if TYPE_CHECKING:
    from builder.sandbox.spec import SandboxResult


class SandboxError(BuildError):
    """Root of the sandbox's errors."""


class SandboxSetupError(SandboxError):
    """The host cannot make the sandbox; the message says what to do."""


class StepFailed(SandboxError):
    """The command ran and exited non-zero (or was killed by a signal)."""

    def __init__(self, step: str, exit_code: int, signal: int = 0) -> None:
        self.step, self.status, self.signal = step, exit_code, signal
        how = f"was killed by signal {signal}" if signal else f"exited with code {exit_code}"
        super().__init__(f"{step}: the command {how}")


class StepOOM(SandboxError):
    """The command was killed by the kernel for exceeding the memory limit."""

    def __init__(self, step: str, limit: int) -> None:
        self.step, self.limit = step, limit
        super().__init__(
            f"{step}: ran out of memory at the {binary_size(limit)} limit "
            "(the kernel killed it; raise --memory)"
        )


def check(result: SandboxResult, step: str) -> SandboxResult:
    """Raise the build error for a failed step (`step` names it, e.g. "RUN make")."""
    if result.oom_killed and result.memory_limit:
        raise StepOOM(step, result.memory_limit)
    if result.exit_code != 0:
        raise StepFailed(step, result.exit_code, result.signal)
    return result
