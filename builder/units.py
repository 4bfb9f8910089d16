"""Byte counts for people, in docker's 1000-based units (`5.24MB`, `812 B`): one
scaling rule, with the number format and separator each view prints."""

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
