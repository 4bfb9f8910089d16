"""The bytes an image stores but does not need, two ways: pybuild's and dive's.

Owns the arithmetic over `ImageTree.versions`, pybuild's figure:
- a path whose earlier versions are hidden by a later layer could be stored once: the
  bytes of every hidden version are reclaimable; a deleted path's every version is;
- a deleted or opaque directory counts as a deletion of every file under it;
- reclaimable percent is of the bytes of the layers above the base image (every layer
  the base image brought is the base).
That is what a rewrite of the Dockerfile would not store (`reclaimable_bytes`). dive's
figures, which `.dive-ci` thresholds are written against, are `dive`
(`builder.inspect.dive`); `efficiency`, `wasted_bytes` and `user_wasted_percent` are
dive's values under dive's names.
"""

from __future__ import annotations

import heapq
from dataclasses import dataclass

from builder.inspect.dive import DiveFigures
from builder.inspect.layers import ImageTree


@dataclass(frozen=True)
class WastedPath:
    """A path whose bytes are stored more than once, or stored then deleted."""

    path: str
    reclaimable_bytes: int
    versions: int
    layers: tuple[int, ...]  # every layer that wrote or deleted the path
    deleted: bool  # the path is gone from the final image


@dataclass(frozen=True)
class WasteReport:
    """pybuild's reclaimable bytes beside dive's figures (`dive`)."""

    reclaimable_bytes: int
    image_files_size: int
    user_files_size: int  # above the base image's layers
    reclaimable_percent: float  # of user_files_size, 0..100
    base_layers: int
    top: tuple[WastedPath, ...]  # the most reclaimable paths first, at most top_n
    dive: DiveFigures
    top_n: int = 20

    @property
    def efficiency(self) -> float:
        return self.dive.efficiency

    @property
    def wasted_bytes(self) -> int:
        return self.dive.wasted_bytes

    @property
    def user_wasted_percent(self) -> float:
        return self.dive.user_wasted_percent


def compute_waste(tree: ImageTree, base_layers: int = 1, top_n: int = 20) -> WasteReport:
    reclaimable = 0
    heap: list[tuple[int, str]] = []
    for path, vs in tree.versions.items():
        if len(vs) == 1:
            continue
        last = vs[-1][1]
        w = sum(max(s, 0) for _, s in vs) - (last if last >= 0 else 0)
        reclaimable += w
        if w > 0:
            if len(heap) < top_n:
                heapq.heappush(heap, (w, path))
            elif (w, path) > heap[0]:
                heapq.heapreplace(heap, (w, path))
    top = []
    for w, path in sorted(heap, key=lambda t: (-t[0], t[1])):
        vs = tree.versions[path]
        top.append(
            WastedPath(
                path,
                w,
                sum(1 for _, s in vs if s >= 0),
                tuple(sorted({i for i, _ in vs})),
                vs[-1][1] < 0,
            )
        )
    base_layers = max(0, min(base_layers, len(tree.layers)))
    image_size = sum(st.files_size for st in tree.layers)
    user_size = sum(st.files_size for st in tree.layers[base_layers:])
    pct = 100.0 * reclaimable / user_size if user_size else 0.0
    return WasteReport(
        reclaimable, image_size, user_size, pct, base_layers, tuple(top), tree.dive.figures(), top_n
    )
