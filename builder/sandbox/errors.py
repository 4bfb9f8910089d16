"""Sandbox errors: setup problems (with what to do) and failed or killed steps."""

from __future__ import annotations

from builder.errors import BuildError


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
            f"{step}: ran out of memory at the {human_bytes(limit)} limit "
            "(the kernel killed it; raise --memory)"
        )


def human_bytes(n: int) -> str:
    for unit, size in (("GiB", 1 << 30), ("MiB", 1 << 20), ("KiB", 1 << 10)):
        if n >= size and n % size == 0:
            return f"{n // size} {unit}"
    return f"{n} bytes"
