"""Byte counts for people: sizes in docker's 1000-based units (`5.24MB`, `812 B`), one
scaling rule with the number format and separator each view prints; and limits (the
`--memory` a user gave) in exact binary units (`64 MiB`)."""

from __future__ import annotations

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
