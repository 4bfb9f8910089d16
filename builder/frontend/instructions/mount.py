"""The value of one `RUN --mount=...` and its canonical text (`flags.parse_mount` makes
it). Apart from the instruction classes, so that a plan with no mount never loads it."""

from __future__ import annotations

from dataclasses import dataclass, fields


@dataclass(frozen=True)
class Mount:
    """One `RUN --mount=type=...`; `from_` is a stage name/index or image ref."""

    type: str = "bind"
    target: str = ""
    source: str = ""
    from_: str = ""
    id: str = ""
    sharing: str = "shared"
    mode: int | None = None
    uid: int | None = None
    gid: int | None = None
    required: bool = False
    readonly: bool = True
    size: int | None = None
    env: str = ""

    def canonical(self) -> str:
        """`type=cache,target=/c,...`: the type, then the fields that differ from a
        fresh mount of that type (mode in octal)."""
        parts = [f"type={self.type}"]
        defaults = Mount(readonly=self.type in ("bind", "secret", "ssh"))
        for f in fields(self):
            value = getattr(self, f.name)
            if f.name != "type" and value != getattr(defaults, f.name):
                name = "from" if f.name == "from_" else f.name
                parts.append(f"{name}={oct(value)[2:] if name == 'mode' else value}")
        return ",".join(str(p) for p in parts)
