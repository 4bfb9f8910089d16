"""dive's figures to the byte: `efficiency`, `wastedBytes`, `userWastedPercent` and its
inefficient files, as wagoodman/dive 0.13 computes them (filetree/efficiency.go,
filetree/file_tree.go, image/analysis.go), so `.dive-ci` thresholds move over unchanged.

Owns `DiveTally`, fed each layer's tar entries in order, and what it concludes. dive's
rules, which are not pybuild's (`builder.inspect.waste` has those):
- each layer is a tree of its entries, the parents an entry implies being nodes with an
  empty payload (not directories); an opaque marker adds nothing but its parents;
- every leaf of a layer's tree is visited (files, links, empty directories, whiteouts),
  in dive's order: depth first, children before their parent, siblings by name;
- a path's `cumulative` size sums its visits and `min` keeps the smallest; a whiteout
  counts 0 unless the path was, in the layers below stacked as dive stacks them, a
  directory, which counts every node beneath it (stacking lets an implied parent's
  empty payload replace a directory's, and ignores opaque markers); a whiteout whose
  path is not there ends that layer's visits, its path left with `min` -1;
- efficiency = sum(min) / sum(cumulative) (1.0 when nothing was counted); a path
  visited twice or more is inefficient, and `wastedBytes` sums their cumulative sizes;
- the user's bytes are those of every layer but the first (a layer's size being the
  sum of its entries' header sizes), and userWastedPercent = wastedBytes / them.
"""

from __future__ import annotations

import math
import posixpath
from dataclasses import dataclass

WHITEOUT = ".wh."
OPAQUE_PREFIX = ".wh..wh.."


class _Node:
    """A node of a dive tree: its payload (a directory or not, its size) and children."""

    __slots__ = ("children", "is_dir", "size")

    def __init__(self, is_dir: bool = False, size: int = 0) -> None:
        self.is_dir, self.size = is_dir, size
        self.children: dict[str, _Node] = {}

    def subtree_size(self) -> int:
        total, todo = 0, [self]
        while todo:
            n = todo.pop()
            total += n.size
            todo.extend(n.children.values())
        return total


def _add(root: _Node, parts: list[str], is_dir: bool, size: int) -> None:
    """dive's AddPath: missing parents get an empty payload; an opaque marker (or a
    name under one) stops the walk; the end node takes the payload."""
    node = root
    for name in parts:
        child = node.children.get(name)
        if child is None:
            if name.startswith(OPAQUE_PREFIX):
                return
            child = node.children[name] = _Node()
        node = child
    node.is_dir, node.size = is_dir, size


def _get(root: _Node, parts: list[str]) -> _Node | None:
    node: _Node | None = root
    for name in parts:
        node = node.children.get(name) if node is not None else None
    return node


def _child_first(root: _Node) -> list[tuple[list[str], _Node]]:
    """Every node but the root with its path, children before parents, siblings by
    name: the order of dive's VisitDepthChildFirst."""
    out: list[tuple[list[str], _Node]] = []

    def walk(node: _Node, parts: list[str]) -> None:
        for name in sorted(node.children):
            child = node.children[name]
            walk(child, [*parts, name])
            out.append(([*parts, name], child))

    walk(root, [])
    return out


def _shown(parts: list[str]) -> tuple[str, bool]:
    """A node's path as dive names it (a whiteout's prefix dropped) and whether it is a
    whiteout."""
    last = parts[-1]
    if last.startswith(WHITEOUT):
        return "/" + "/".join([*parts[:-1], last[len(WHITEOUT) :]]), True
    return "/" + "/".join(parts), False


@dataclass(frozen=True)
class DivePath:
    """One of dive's inefficient files: visited `count` times, `size` bytes in all."""

    path: str
    count: int
    size: int


@dataclass(frozen=True)
class DiveFigures:
    efficiency: float
    wasted_bytes: int
    size: int  # every layer's bytes
    user_size: int  # every layer's but the first
    inefficient: tuple[DivePath, ...]  # the largest first

    @property
    def user_wasted_percent(self) -> float:
        """0..100; NaN when only one layer holds bytes (dive divides by zero too)."""
        if self.user_size == 0:
            return math.nan
        return 100.0 * self.wasted_bytes / self.user_size


class DiveTally:
    """Feed `entry()` with each entry of a layer tar (names as in the tar, "." left out),
    `end_layer()` after each layer, then read `figures()`."""

    def __init__(self) -> None:
        self._layer = _Node()
        self._layer_size = 0
        self._stacked: _Node | None = None  # the layers below, stacked as dive does
        self._paths: dict[str, list[int]] = {}  # path -> [cumulative, min, count]
        self._sizes: list[int] = []

    def entry(self, unsafe_name: str, is_dir: bool, size: int) -> None:
        """One tar entry: its name as in the tar, whether it is a directory, and the size
        its header gives (0 but for regular files)."""
        name = posixpath.normpath(unsafe_name)  # Go's path.Clean, as dive reads names
        if name == ".":
            return
        self._layer_size += size
        _add(self._layer, [p for p in name.split("/") if p], is_dir, size)

    def end_layer(self) -> None:
        tree, self._layer = self._layer, _Node()
        self._sizes.append(self._layer_size)
        self._layer_size = 0
        # dive looks the first layer's whiteouts up in that layer itself
        self._visit(tree, tree if self._stacked is None else self._stacked)
        self._stacked = _stack(_copy(tree) if self._stacked is None else self._stacked, tree)

    def _visit(self, tree: _Node, below: _Node) -> None:
        for parts, node in _child_first(tree):
            if node.children:
                continue  # only leaves are visited
            path, whiteout = _shown(parts)
            data = self._paths.setdefault(path, [0, -1, 0])
            if whiteout:
                prev = _get(below, [*parts[:-1], parts[-1][len(WHITEOUT) :]])
                if prev is None:
                    return  # dive's visitor fails here and the layer's walk ends
                size = prev.subtree_size() if prev.is_dir else 0
            else:
                size = node.size
            data[0] += size
            if data[1] < 0 or size < data[1]:
                data[1] = size
            data[2] += 1

    def figures(self) -> DiveFigures:
        mins = sum(d[1] for d in self._paths.values())
        cums = sum(d[0] for d in self._paths.values())
        bad = [DivePath(p, d[2], d[0]) for p, d in self._paths.items() if d[2] >= 2]
        bad.sort(key=lambda p: (-p.size, p.path))
        return DiveFigures(
            efficiency=1.0 if cums == 0 else mins / cums,
            wasted_bytes=sum(p.size for p in bad),
            size=sum(self._sizes),
            user_size=sum(self._sizes[1:]),
            inefficient=tuple(bad),
        )


def _copy(node: _Node) -> _Node:
    out = _Node(node.is_dir, node.size)
    out.children = {k: _copy(v) for k, v in node.children.items()}
    return out


def _stack(lower: _Node, upper: _Node) -> _Node:
    """dive's Stack: every node of `upper`, children first, grafted onto `lower`: a
    whiteout removes its path, anything else is added with its payload (an implied
    parent's empty one too)."""
    for parts, node in _child_first(upper):
        path_parts = parts
        if parts[-1].startswith(WHITEOUT):
            path_parts = [*parts[:-1], parts[-1][len(WHITEOUT) :]]
            parent = _get(lower, path_parts[:-1])
            if parent is not None:
                parent.children.pop(path_parts[-1], None)
        else:
            _add(lower, path_parts, node.is_dir, node.size)
    return lower


def percent_text(v: float, digits: int = 2) -> str:
    """A percentage as dive prints it: `NaN %` for an image with no user layer."""
    return "NaN %" if math.isnan(v) else f"{v:.{digits}f} %"


_SI = ("B", "kB", "MB", "GB", "TB", "PB", "EB")


def human_bytes(n: int) -> str:
    """A size as dive prints it (go-humanize's Bytes): 1000-based, one decimal below 10
    of a unit (`5.2 MB`), none above (`12 MB`), rounded as Go rounds."""
    if n < 10:
        return f"{n} B"
    e = math.floor(math.log(n) / math.log(1000))
    val = math.floor(n / 1000**e * 10 + 0.5) / 10
    return f"{val:.1f} {_SI[e]}" if val < 10 else f"{val:.0f} {_SI[e]}"
