"""Helpers shared by the image/maintenance verbs: open the store, format sizes/times."""

from __future__ import annotations

from datetime import UTC, datetime

from builder.units import decimal_size
from store.layout import Store, open_store


def store() -> Store:
    return open_store()


def human_size(n: int) -> str:
    """docker-style sizes: 1000-based, 3 significant digits ("5.24MB")."""
    return decimal_size(n)


def human_ago(created: str | None) -> str:
    if not created:
        return "N/A"
    try:
        t = datetime.fromisoformat(created.replace("Z", "+00:00"))
    except ValueError:
        return "N/A"
    secs = (datetime.now(UTC) - t).total_seconds()
    for unit, n in (
        ("years", 31536000),
        ("months", 2592000),
        ("weeks", 604800),
        ("days", 86400),
        ("hours", 3600),
        ("minutes", 60),
    ):
        if secs >= 2 * n:
            return f"{int(secs // n)} {unit} ago"
    return "Less than a minute ago" if secs < 60 else "About a minute ago"
