"""The instructions that say what a container of the image runs: CMD, ENTRYPOINT,
SHELL (the shell of shell-form commands) and HEALTHCHECK."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from builder.frontend import instructions
from builder.frontend.instructions.base import Instruction, command

if TYPE_CHECKING:
    from builder.frontend.instructions.typed import Reader

__all__ = ["Cmd", "Entrypoint", "Healthcheck", "Shell"]

_MS = 1_000_000


@dataclass(frozen=True, repr=False, eq=False)
class Cmd(Instruction):
    """`CMD` in exec or shell form."""

    command: tuple[str, ...] = ()
    exec_form: bool = False
    keyword = "CMD"

    @classmethod
    def parse(cls, c: Reader) -> Cmd:
        c.flags()
        return cls(**c.base(), command=c.node.args, exec_form=c.node.json)

    def canonical(self) -> str:
        return f"{self.keyword} {command(self.command, self.exec_form)}"


class Entrypoint(Cmd):
    """`ENTRYPOINT` in exec or shell form."""

    keyword = "ENTRYPOINT"


@dataclass(frozen=True, repr=False, eq=False)
class Shell(Instruction):
    """`SHELL ["executable", "param"]`."""

    shell: tuple[str, ...] = ()
    keyword = "SHELL"

    @classmethod
    def parse(cls, c: Reader) -> Shell:
        c.flags()
        args = c.at_least(1)
        if not c.node.json:
            raise c.error("SHELL requires the arguments to be in JSON form")
        return cls(**c.base(), shell=args)

    def canonical(self) -> str:
        return f"SHELL {command(self.shell, True)}"


@dataclass(frozen=True, repr=False, eq=False)
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
    flags = {
        "interval": "str",
        "timeout": "str",
        "start-period": "str",
        "start-interval": "str",
        "retries": "str",
    }

    @classmethod
    def parse(cls, c: Reader) -> Healthcheck:
        flags = c.flags()
        args = c.at_least(1)
        typ = args[0].upper()
        if typ == "NONE":
            if len(args) > 1:
                raise c.error("HEALTHCHECK NONE takes no arguments")
            return cls(**c.base(), none=True)
        if typ != "CMD":
            raise c.error(f'Unknown type "{args[0]}" in HEALTHCHECK (try CMD)')
        if len(args) < 2:
            raise c.error("Missing command after HEALTHCHECK CMD")
        test = ("CMD", *args[1:]) if c.node.json else ("CMD-SHELL", args[1])
        times: dict[str, int] = {}
        for name in ("interval", "timeout", "start-period", "start-interval"):
            text = str(flags.get(name, "") or "0")
            try:
                ns = instructions.flags.parse_duration(text)
            except instructions.flags.FlagError as e:
                raise c.error(f"--{name}: {e}") from None
            if 0 < ns < _MS:
                raise c.error(f"--{name} cannot be less than 1ms")
            times[name.replace("-", "_")] = ns
        try:
            retries = int(str(flags.get("retries", "0")))
        except ValueError:
            raise c.error(f"--retries: invalid number {flags.get('retries')!r}") from None
        if retries < 0:
            raise c.error("--retries cannot be negative")
        return cls(
            **c.base(),
            test=test,
            retries=retries,
            interval=times["interval"],
            timeout=times["timeout"],
            start_period=times["start_period"],
            start_interval=times["start_interval"],
        )

    def canonical(self) -> str:
        if self.none:
            return "HEALTHCHECK NONE"
        opts = [
            ("interval", self.interval),
            ("timeout", self.timeout),
            ("start-period", self.start_period),
            ("start-interval", self.start_interval),
            ("retries", self.retries),
        ]
        flags = [f"--{k}={v}" for k, v in opts if v]
        cmd = command(self.test[1:], self.test[0] == "CMD")
        return " ".join(["HEALTHCHECK", *flags, "CMD", cmd])
