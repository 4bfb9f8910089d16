"""A step that fills the store's filesystem fails with one clear line:
`no space left on the store (needs ~X MB)`, not with whatever errno text
the copy or the RUN command happened to print.

`guard()` wraps a step's execution. It recognises ENOSPC/EDQUOT (an OSError, a
BuildError whose text carries strerror, a RUN whose last output lines say so, or a
failed step during which the store's free space fell under 0.5%) and
estimates what the step needs: for COPY/ADD from the context, twice the sources' size
(the upper dir plus the layer blob); otherwise more than what was free when the step
began (a lower bound)."""

from __future__ import annotations

import errno
import os
import threading
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

from builder.engine.copy_step import source_ref
from builder.errors import BuildError
from builder.frontend.instructions.model import Copy
from builder.frontend.planned import PlannedStep
from store.errors import NoSpace

if TYPE_CHECKING:
    from builder.engine.state import BuildContext

T = TypeVar("T")
_TEXTS = (os.strerror(errno.ENOSPC), os.strerror(errno.EDQUOT))
MB = 1 << 20


class StoreFull(BuildError):
    exit_code = 1

    def __init__(self, needed: int) -> None:
        self.needed = needed
        super().__init__(str(NoSpace(needed)))


def free_bytes(path: Any) -> int:
    try:
        st = os.statvfs(path)
    except OSError:
        return 0
    return st.f_bavail * st.f_frsize


def _is_enospc(e: BaseException) -> bool:
    cur: BaseException | None = e
    while cur is not None:
        if isinstance(cur, OSError) and cur.errno in (errno.ENOSPC, errno.EDQUOT):
            return True
        if isinstance(cur, NoSpace):
            return True
        texts = [str(cur), *getattr(cur, "tail", [])]
        if any(t in s for s in texts for t in _TEXTS):
            return True
        cur = cur.__cause__ or cur.__context__
    return False


def _sources_bytes(ctx: BuildContext, step: PlannedStep) -> int:
    ins = step.instruction
    if not isinstance(ins, Copy) or source_ref(step):
        return 0

    base = os.path.realpath(ctx.opts.context)
    total = 0
    for unsafe_src in ins.sources:
        if "://" in str(unsafe_src):
            continue
        for p in map(str, Path(base).glob(str(unsafe_src).lstrip("/") or ".")):
            if not os.path.realpath(p).startswith(base):
                continue
            if os.path.isfile(p):
                total += os.path.getsize(p)
            for d, _, files in os.walk(p):
                total += sum(
                    os.path.getsize(os.path.join(d, f))
                    for f in files
                    if os.path.isfile(os.path.join(d, f))
                )
    return total


class _LowWater:
    """Samples the store's free space while a step runs: a RUN command that hit ENOSPC
    may only print EIO or its own words, but the filesystem was full."""

    def __init__(self, root: Any) -> None:
        self.root, self.low = root, free_bytes(root)
        self.total = _total_bytes(root)
        self._stop = threading.Event()
        self._t = threading.Thread(target=self._watch, daemon=True)
        self._t.start()

    def _watch(self) -> None:
        while not self._stop.wait(0.02):
            self.low = min(self.low, free_bytes(self.root))

    def stop(self) -> None:
        self._stop.set()
        self._t.join()
        self.low = min(self.low, free_bytes(self.root))

    def was_full(self) -> bool:
        return self.low < max(MB, self.total // 200)


def _total_bytes(path: Any) -> int:
    try:
        st = os.statvfs(path)
    except OSError:
        return 0
    return st.f_blocks * st.f_frsize


def guard(ctx: BuildContext, step: PlannedStep, run: Callable[[], T]) -> T:
    """Run one step; turn a full store into `StoreFull` with an estimate."""
    free0 = free_bytes(ctx.store.root)
    water = _LowWater(ctx.store.root)
    try:
        return run()
    except (OSError, BuildError, NoSpace) as e:
        water.stop()
        if not (_is_enospc(e) or water.was_full()):
            raise
        need = max(2 * _sources_bytes(ctx, step), free0 + MB)
        raise StoreFull(need) from None
    finally:
        water.stop()
