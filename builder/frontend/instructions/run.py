"""RUN: its command (exec or shell form), heredocs, `--mount`s, `--network` and
`--security`."""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, cast

from builder.frontend import instructions
from builder.frontend.instructions.base import Expander, Instruction, command, flag

if TYPE_CHECKING:
    from builder.frontend.heredoc import Heredoc
    from builder.frontend.instructions.mount import Mount
    from builder.frontend.instructions.typed import Reader

__all__ = ["Run"]


@dataclass(frozen=True, repr=False, eq=False)
class Run(Instruction):
    """`RUN`: exec form (`exec_form`, argv) or shell form (one string), its flags and heredocs."""

    command: tuple[str, ...] = ()  # exec form: argv; shell form: one string
    exec_form: bool = False
    mounts: tuple[Mount, ...] = ()
    network: str = ""
    security: str = ""
    heredocs: tuple[Heredoc, ...] = ()
    keyword = "RUN"
    flags = {"mount": "list", "network": "str", "security": "str"}

    @classmethod
    def parse(cls, c: Reader) -> Run:
        flags = c.flags()
        heredocs = c.node.heredocs
        if not c.node.args and not heredocs:
            raise c.error("RUN requires at least one argument")
        try:
            # --mount is a "list" flag, so its value is a list[str]
            mounts = tuple(
                instructions.flags.parse_mount(t) for t in cast("list[str]", flags.get("mount", []))
            )
        except instructions.flags.FlagError as e:
            raise c.error(str(e)) from None
        network = str(flags.get("network", ""))
        if network and network not in ("default", "none", "host"):
            raise c.error(f"unsupported network mode: {network}")
        security = str(flags.get("security", ""))
        if security and security not in ("sandbox", "insecure"):
            raise c.error(f"unsupported security mode: {security}")
        return cls(
            **c.base(),
            command=c.node.args,
            exec_form=c.node.json,
            mounts=mounts,
            network=network,
            security=security,
            heredocs=heredocs,
        )

    def expand(self, fn: Expander) -> Run:
        """RUN's command is left to the shell, but its mount options are expanded."""
        return replace(
            self,
            mounts=tuple(
                replace(m, target=fn(m.target), source=fn(m.source), from_=fn(m.from_), id=fn(m.id))
                for m in self.mounts
            ),
        )

    def canonical(self) -> str:
        flags = [flag("mount", mt.canonical()) for mt in self.mounts]
        flags += [
            flag(k, v) for k, v in (("network", self.network), ("security", self.security)) if v
        ]
        text = " ".join(["RUN", *flags, command(self.command, self.exec_form)])
        return text + "".join(f"\n{h.content}{h.name}" for h in self.heredocs)
