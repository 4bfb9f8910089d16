"""Builder flags (`--name[=value]`) checked per instruction, as BuildKit's BFlags, and
`RUN --mount` parsing.

Public API: `parse_flags(allowed, raw_flags) -> dict[str, str | bool | list[str]]`
(`allowed`: name -> kind, "str" one value, "bool", "list" repeatable: each instruction
class's `flags`), `parse_mount(text) -> Mount`, `parse_duration(text) -> int` (Go
durations, ns). Errors raise `FlagError(message)`; the caller adds file, span and
instruction.
"""

from __future__ import annotations

import csv
import re
from collections.abc import Mapping
from typing import cast

from builder.frontend.instructions.mount import Mount


class FlagError(Exception):
    pass


def parse_flags(
    allowed: Mapping[str, str], raw_flags: tuple[str, ...]
) -> dict[str, str | bool | list[str]]:
    out: dict[str, str | bool | list[str]] = {}
    for raw in raw_flags:
        name, has_value, value = raw[2:].partition("=")
        kind = allowed.get(name)
        if kind is None:
            raise FlagError(f"unknown flag: --{name}")
        if kind == "list":
            if not has_value:
                raise FlagError(f"Missing a value on flag: --{name}")
            # a "list" flag only ever holds the list made here
            cast("list[str]", out.setdefault(name, [])).append(value)
            continue
        if name in out:
            raise FlagError(f"Duplicate flag specified: --{name}")
        if kind == "bool":
            low = value.lower()
            if has_value and low not in ("true", "false"):
                raise FlagError(f"expecting boolean value for flag --{name}, not: {value}")
            out[name] = (low != "false") if has_value else True
        else:
            if not has_value:
                raise FlagError(f"Missing a value on flag: --{name}")
            out[name] = value
    return out


_MOUNT_TYPES = ("bind", "cache", "tmpfs", "secret", "ssh")
_SHARING = ("shared", "private", "locked")


def _split_csv(text: str) -> list[str]:
    return next(csv.reader([text]), []) if text else []


def _bool(key: str, value: str | None) -> bool:
    if value is None:
        return True
    low = value.lower()
    if low in ("1", "true", "t"):
        return True
    if low in ("0", "false", "f"):
        return False
    raise FlagError(f"invalid value for {key}: {value}")


def _int(key: str, value: str | None, base: int = 10) -> int:
    try:
        return int(value or "", base)
    except ValueError:
        raise FlagError(f"invalid value for {key}: {value}") from None


def parse_mount(text: str) -> Mount:
    """`type=cache,target=/root/.cache,sharing=locked` as a Mount."""
    fields: dict[str, object] = {"type": "bind"}
    readonly: bool | None = None
    for part in _split_csv(text):
        key, eq, value = part.partition("=")
        key = key.strip().lower()
        val = value if eq else None
        if key == "type":
            if val not in _MOUNT_TYPES:
                raise FlagError(f"unsupported mount type {val!r}")
            fields["type"] = val
        elif key in ("target", "dst", "destination"):
            fields["target"] = val or ""
        elif key in ("source", "src"):
            fields["source"] = val or ""
        elif key == "from":
            fields["from_"] = val or ""
        elif key in ("id", "env"):
            fields[key] = val or ""
        elif key in ("readonly", "ro"):
            readonly = _bool(key, val)
        elif key in ("readwrite", "rw"):
            readonly = not _bool(key, val)
        elif key == "required":
            fields["required"] = _bool(key, val)
        elif key == "sharing":
            if val not in _SHARING:
                raise FlagError(f"unsupported sharing value {val!r}")
            fields["sharing"] = val
        elif key == "mode":
            fields["mode"] = _int(key, val, 8)
        elif key in ("uid", "gid", "size"):
            fields[key] = _int(key, val)
        else:
            raise FlagError(f"unexpected key '{key}' in '{part}'")
    kind = fields["type"]
    if readonly is None:
        readonly = kind in ("bind", "secret", "ssh")
    if kind in ("bind", "cache", "tmpfs") and not fields.get("target"):
        raise FlagError(f"mount type {kind} requires a target (dst)")
    return Mount(readonly=readonly, **fields)  # type: ignore[arg-type]  # fields: per-key types set above


_DURATION = re.compile(r"(\d+(?:\.\d*)?|\.\d+)(ns|us|µs|ms|s|m|h)")
_UNIT_NS = {
    "ns": 1,
    "us": 1_000,
    "µs": 1_000,
    "ms": 1_000_000,
    "s": 1_000_000_000,
    "m": 60_000_000_000,
    "h": 3_600_000_000_000,
}


def parse_duration(text: str) -> int:
    """Go's time.ParseDuration (non-negative), in nanoseconds."""
    if text == "0":
        return 0
    pos, total = 0, 0.0
    if not text:
        raise FlagError('invalid duration ""')
    while pos < len(text):
        m = _DURATION.match(text, pos)
        if not m:
            raise FlagError(f'time: invalid duration "{text}"')
        total += float(m.group(1)) * _UNIT_NS[m.group(2)]
        pos = m.end()
    return int(total)
