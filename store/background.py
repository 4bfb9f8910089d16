"""A call on a thread of its own, its result or error kept for whoever waits: the
umount that overlaps a layer diff (store.snapshots) and the stages of a build
(builder.engine.runner), which need only this much of a Future (concurrent.futures
costs a no-op build ~6 ms to import)."""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any


class Background:
    """`fn(*args)` on a thread, started by `start()`. `result()` waits and returns or
    re-raises; `exception()` waits and returns the error (or None); `on_done` is
    called on the thread when the call ends either way."""

    def __init__(
        self,
        fn: Callable[..., Any],
        *args: Any,
        name: str,
        on_done: Callable[[], object] | None = None,
        daemon: bool = False,
    ) -> None:
        self._call = (fn, args)
        self._on_done = on_done
        self._done = threading.Event()
        self._result: Any = None
        self._error: BaseException | None = None
        self.thread = threading.Thread(target=self._run, name=name, daemon=daemon)

    def start(self) -> Background:
        self.thread.start()
        return self

    def _run(self) -> None:
        fn, args = self._call
        try:
            self._result = fn(*args)
        except BaseException as e:  # handed to whoever waits
            self._error = e
        finally:
            self._done.set()
            if self._on_done is not None:
                self._on_done()

    def done(self) -> bool:
        return self._done.is_set()

    def exception(self) -> BaseException | None:
        self._done.wait()
        return self._error

    def result(self) -> Any:
        self._done.wait()
        if self._error is not None:
            raise self._error
        return self._result
