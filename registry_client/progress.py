"""Progress events for pulls and pushes. The client emits `ProgressEvent`s through a
plain callback; the CLI's display (`builder.progress`) or a test subscribes. Callbacks
run on worker threads, so they must be quick and thread-safe."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass

# actions: resolve, manifest, exists, mount, start, progress, done, retry, tag
Progress = Callable[["ProgressEvent"], None]


@dataclass(frozen=True)
class ProgressEvent:
    """One step of a transfer. `action` is resolve | manifest | exists | mount | start |
    progress | done | retry | tag; `current`/`total` are bytes of blob `digest`."""

    action: str
    digest: str = ""
    current: int = 0
    total: int = 0
    message: str = ""

    @property
    def short(self) -> str:
        return self.digest.split(":", 1)[-1][:12]


def emit(
    progress: Progress | None,
    action: str,
    digest: object = "",
    current: int = 0,
    total: int = 0,
    message: str = "",
) -> None:
    if progress is not None:
        progress(ProgressEvent(action, str(digest), current, total, message))


class ByteCounter:
    """Turns byte counts into throttled `progress` events (at most ~4 per second)."""

    def __init__(self, progress: Progress | None, digest: object, total: int) -> None:
        self.progress, self.digest, self.total = progress, str(digest), total
        self.current = 0
        self._last = 0.0

    def add(self, n: int) -> None:
        self.current += n
        now = time.monotonic()
        if self.progress is not None and (now - self._last > 0.25 or self.current >= self.total):
            self._last = now
            emit(self.progress, "progress", self.digest, self.current, self.total)

    def reset(self, current: int) -> None:
        self.current = current
