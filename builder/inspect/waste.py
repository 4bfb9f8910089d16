"""Wasted bytes and the efficiency score, as dive defines them.

Owns the arithmetic over `ImageTree.versions`:
- a path whose earlier versions are hidden by a later layer wastes the bytes of every
  hidden version; a deleted path wastes all of its versions;
- efficiency is dive's score (wagoodman/dive filetree/efficiency.go): for each path,
  `min` is the smallest size among its versions (a whiteout counts as 0) and
  `cumulative` is the sum of all of them; score = sum(min) / sum(cumulative), 1.0 when
  the image holds no bytes;
- user-wasted percent is wasted / (bytes of the layers above the base image), where
  dive counts only layer 0 as base and we count every layer the base image brought.
One difference from dive, on purpose: dive's `wastedBytes` also counts the visible
(final) copy of each duplicated path; the issue's definition (hidden versions only) is
what a user can reclaim, so that is `wasted_bytes`. Dive's figure is `dive_wasted_bytes`.
Paths are files (and links); a deleted or opaque directory counts as a deletion of every
file under it. Dive books a directory whiteout under the directory's own path with the
subtree's size as both its min and its sum, so deleting a directory lowers neither its
score nor its wasted bytes; here the files under it are wasted, as the issue defines.
"""

from __future__ import annotations

import heapq
from dataclasses import dataclass

from builder.inspect.layers import ImageTree


@dataclass(frozen=True)
class WastedPath:
    """A path whose bytes are stored more than once, or stored then deleted."""

    path: str
    wasted_bytes: int
    versions: int
    layers: tuple[int, ...]  # every layer that wrote or deleted the path
    deleted: bool  # the path is gone from the final image


@dataclass(frozen=True)
class WasteReport:
    """The image's wasted bytes and efficiency, as pybuild and dive count them."""

    wasted_bytes: int
    dive_wasted_bytes: int
    efficiency: float
    image_files_size: int
    user_files_size: int
    user_wasted_percent: float  # 0..100
    base_layers: int
    top: tuple[WastedPath, ...]


def compute_waste(tree: ImageTree, base_layers: int = 1, top_n: int = 20) -> WasteReport:
    wasted = dive_wasted = 0
    sum_min = sum_cum = 0
    heap: list[tuple[int, str]] = []
    for path, vs in tree.versions.items():
        if len(vs) == 1:
            s = vs[0][1]
            sum_min += s
            sum_cum += s
            continue
        cum = 0
        mn = -1
        for _, s in vs:
            s = max(s, 0)
            cum += s
            if mn < 0 or s < mn:
                mn = s
        sum_min += mn
        sum_cum += cum
        last = vs[-1][1]
        w = cum - (last if last >= 0 else 0)
        wasted += w
        dive_wasted += cum
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
    eff = 1.0 if sum_cum == 0 else sum_min / sum_cum
    user_pct = 100.0 * wasted / user_size if user_size else 0.0
    return WasteReport(
        wasted, dive_wasted, eff, image_size, user_size, user_pct, base_layers, tuple(top)
    )
