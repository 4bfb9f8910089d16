"""STOPSIGNAL's values as Docker reads them (moby's `signal.ParseSignal` with its Linux
`SignalMap`): a nonzero number (any, as Docker does not bound it), or a name with or
without `SIG`, in any case. Pure: the planner checks the expanded word with it."""

from __future__ import annotations

_NAMES = frozenset(
    (
        "ABRT ALRM BUS CHLD CLD CONT FPE HUP ILL INT IO IOT KILL PIPE POLL PROF PWR QUIT "
        "SEGV STKFLT STOP SYS TERM TRAP TSTP TTIN TTOU URG USR1 USR2 VTALRM WINCH XCPU XFSZ "
        "RTMIN RTMAX"
    ).split()
    + [f"RTMIN+{n}" for n in range(1, 16)]
    + [f"RTMAX-{n}" for n in range(1, 15)]
)


def signal_error(raw: str) -> str | None:
    """Docker's message for a signal it refuses (`Invalid signal: FOO`), else None."""
    try:
        plain = raw.isascii() and raw.lstrip("+-").isdigit()
        number = int(raw, 10) if plain else None
    except ValueError:
        number = None
    if number is not None:
        return None if number != 0 else f"Invalid signal: {raw}"
    return None if raw.upper().removeprefix("SIG") in _NAMES else f"Invalid signal: {raw}"
