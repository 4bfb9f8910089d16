"""The registry client's one retry policy: which failures are transient, how long to
wait before the next try, and when a whole blob upload starts again.

Two loops use it. `Transport.request` retries one HTTP request; `push` restarts a blob
upload session whose requests failed mid-way. Both call `transient()`, so a status that
one of them retries the other does too. The statuses are go-containerregistry's (408,
429, 500, 502, 503, 504); a failure with no status is a dropped connection.
"""

from __future__ import annotations

import email.utils
import random
import time
from dataclasses import dataclass

TRANSIENT_STATUSES = frozenset({408, 429, 500, 502, 503, 504})
# 416: the registry lost the upload session's offset; a new session starts at 0
RESTART_UPLOAD_STATUSES = TRANSIENT_STATUSES | {416}
UPLOAD_ATTEMPTS = 2  # a blob upload is started again once


def transient(status: int | None) -> bool:
    """Worth trying again: a dropped connection (no status) or a transient status."""
    return status is None or status in TRANSIENT_STATUSES


def restarts_upload(status: int | None) -> bool:
    """A failed blob upload starts a new session: transient failures and a lost offset."""
    return status is None or status in RESTART_UPLOAD_STATUSES


@dataclass(frozen=True)
class Backoff:
    """Exponential backoff with jitter, capped; a `Retry-After` hint wins (capped at
    three times the cap, so a registry cannot park a push for an hour)."""

    base: float = 0.5
    cap: float = 20.0

    def delay(self, attempt: int, retry_after: str | None = None) -> float:
        hinted = parse_retry_after(retry_after)
        if hinted is not None:
            return min(self.cap * 3, max(hinted, 0.0))
        return min(self.cap, self.base * (2**attempt) * random.uniform(0.5, 1.5))


def parse_retry_after(value: str | None) -> float | None:
    """`Retry-After` as seconds (delta-seconds or an HTTP date)."""
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(0.0, when.timestamp() - time.time())
