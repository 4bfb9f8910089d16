"""Byte counts for people: sizes in docker's 1000-based units (`5.24MB`, `812 B`), one
scaling rule with the number format and separator each view prints, and as
go-humanize writes them for dive's reports (`humanize_bytes`); and limits (the
`--memory` a user gave) in exact binary units (`64 MiB`), read as docker reads them;
and `--ulimit` values (go-units `ParseUlimit`).
"""

from __future__ import annotations

import math
import re

from builder.errors import UsageError

DECIMAL_UNITS = ("kB", "MB", "GB", "TB")


def decimal_size(
    n: float, fmt: str = ".3g", sep: str = "", units: tuple[str, ...] = DECIMAL_UNITS
) -> str:
    """`n` bytes scaled by 1000 until under 1000 (or out of `units`); whole bytes below
    1 kB. The default is docker's `images`/`history` form, 3 significant digits."""
    if abs(n) < 1000:
        return f"{int(n)}{sep}B"
    for unit in units:
        n /= 1000
        if abs(n) < 1000 or unit == units[-1]:
            break
    return f"{n:{fmt}}{sep}{unit}"


def humanize_bytes(n: int) -> str:
    """A size as go-humanize's Bytes writes it (dive's reports): 1000-based, one decimal
    below 10 of a unit (`5.2 MB`), none above (`12 MB`), rounded as Go rounds."""
    if n < 10:
        return f"{n} B"
    e = math.floor(math.log(n) / math.log(1000))
    val = math.floor(n / 1000**e * 10 + 0.5) / 10
    unit = ("B", *DECIMAL_UNITS, "PB", "EB")[e]
    return f"{val:.1f} {unit}" if val < 10 else f"{val:.0f} {unit}"


def binary_size(n: int) -> str:
    """A limit in the largest binary unit that divides it exactly: `64 MiB`, `3 KiB`."""
    for unit, size in (("GiB", 1 << 30), ("MiB", 1 << 20), ("KiB", 1 << 10)):
        if n >= size and n % size == 0:
            return f"{n // size} {unit}"
    return f"{n} bytes"


# go-units' RAMInBytes (docker's --memory, --shm-size), case-insensitive; compiled by
# `re` when a size is given
_RAM = r"(\d+(?:\.\d+)?) ?([kmgtp]?)i?b?"
_BINARY = {"": 1, "k": 1 << 10, "m": 1 << 20, "g": 1 << 30, "t": 1 << 40, "p": 1 << 50}


def parse_size(text: str) -> int:
    """`512m`, `1g`, `1.5GiB`, `64MB`, `1024` in bytes (binary units, as docker reads
    `--memory`); a usage error (exit 2) when `text` is not a size."""
    m = re.fullmatch(_RAM, text.strip(), re.IGNORECASE)
    if m is None:
        raise UsageError(f"invalid size: {text!r} (use e.g. 512m or 1g)")
    return int(float(m.group(1)) * _BINARY[m.group(2).lower()])


# the names go-units knows; builder.sandbox.ulimits has their setrlimit resources
ULIMITS = (
    "core cpu data fsize locks memlock msgqueue nice nofile nproc rss rtprio rttime "
    "sigpending stack"
).split()


def parse_ulimit(text: str) -> tuple[str, int, int]:
    """(name, soft, hard); a ValueError with Docker's message when Docker refuses it."""
    name, eq, values = text.partition("=")
    if not eq:
        raise ValueError(f"invalid ulimit argument: {text}")
    if name not in ULIMITS:
        raise ValueError(f"invalid ulimit type: {name}")
    parts = values.split(":")
    if len(parts) > 2:
        raise ValueError(
            f"too many limit value arguments - {values}, can only have up to two, `soft[:hard]`"
        )
    soft, hard = _int64(parts[0]), _int64(parts[-1])
    if hard != -1 and soft > hard:
        raise ValueError(
            f"ulimit soft limit must be less than or equal to hard limit: {soft} > {hard}"
        )
    return name, soft, hard


def _int64(s: str) -> int:
    """strconv.ParseInt(s, 10, 64)."""
    if not (s.isascii() and s.lstrip("+-").isdigit() and s.count("-") + s.count("+") <= 1):
        raise ValueError(f'strconv.ParseInt: parsing "{s}": invalid syntax')
    v = int(s)
    if not -(1 << 63) <= v < 1 << 63:
        raise ValueError(f'strconv.ParseInt: parsing "{s}": value out of range')
    return v
