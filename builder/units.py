"""Byte counts for people: sizes in docker's 1000-based units (`5.24MB`, `812 B`), one
scaling rule with the number format and separator each view prints; and limits (the
`--memory` a user gave) in exact binary units (`64 MiB`), read as docker reads them.
"""

from __future__ import annotations

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
