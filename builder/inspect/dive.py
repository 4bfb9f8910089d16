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

from store.whiteout import WH_META_PREFIX, WH_PREFIX

_NONE: frozenset[str] = frozenset()  # the children of every leaf (most nodes): no set each


class _Node:
    """A node of a dive tree: its payload (a directory or not, its size) and the paths
    of its children."""

    __slots__ = ("children", "is_dir", "size")

    def __init__(self) -> None:
        self.is_dir, self.size = False, 0
        self.children: set[str] | frozenset[str] = _NONE  # its own set once it has a child


class _Tree:
    """A dive tree, its nodes by path (`a/b`; the root is ""), as dive's AddPath,
    RemovePath and GetNode see it."""

    __slots__ = ("nodes",)

    def __init__(self) -> None:
        self.nodes: dict[str, _Node] = {"": _Node()}

    def add(self, path: str, is_dir: bool, size: int) -> None:
        """AddPath: missing parents get an empty payload; a `.wh..wh.` name (an opaque
        marker) and what is under it are not added; the end node takes the payload."""
        node = self._ensure(path)
        if node is not None:
            node.is_dir, node.size = is_dir, size

    def _ensure(self, path: str) -> _Node | None:
        node = self.nodes.get(path)
        if node is not None:
            return node
        parent_path, _, name = path.rpartition("/")
        parent = self._ensure(parent_path)
        if parent is None or name.startswith(WH_META_PREFIX):
            return None
        node = self.nodes[path] = _Node()
        kids = parent.children
        if not isinstance(kids, set):
            kids = parent.children = set()
        kids.add(path)
        return node

    def remove(self, path: str) -> None:
        """RemovePath (nothing when the path is not there, or is the root)."""
        node = self.nodes.pop(path, None) if path else None
        if node is None:
            return
        siblings = self.nodes[path.rpartition("/")[0]].children
        if isinstance(siblings, set):
            siblings.discard(path)
        todo = list(node.children)
        while todo:
            gone = self.nodes.pop(todo.pop())
            todo.extend(gone.children)

    def subtree_size(self, path: str) -> int:
        total, todo = 0, [path]
        while todo:
            n = self.nodes[todo.pop()]
            total += n.size
            todo.extend(n.children)
        return total

    def copy(self) -> _Tree:
        out = _Tree()
        out.nodes = {}
        for path, n in self.nodes.items():
            c = out.nodes[path] = _Node()
            c.is_dir, c.size = n.is_dir, n.size
            c.children = set(n.children) if n.children else _NONE
        return out

    def child_first(self) -> list[str]:
        """Every path but the root in dive's VisitDepthChildFirst order: children
        before their parent, siblings by name."""
        out: list[str] = []

        def walk(path: str) -> None:
            for child in sorted(self.nodes[path].children, key=lambda p: p.rpartition("/")[2]):
                walk(child)
                out.append(child)

        walk("")
        return out


def _target(path: str) -> str | None:
    """The path a whiteout at `path` deletes (its prefix dropped), or None."""
    parent, sep, name = path.rpartition("/")
    if not name.startswith(WH_PREFIX):
        return None
    return (parent + sep + name[len(WH_PREFIX) :]).strip("/")  # GetNode trims slashes


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
    """Feed `entry()` with each entry of a layer tar (names as in the tar), `end_layer()`
    after each layer, then read `figures()`."""

    def __init__(self) -> None:
        self._layer = _Tree()
        self._layer_size = 0
        self._stacked: _Tree | None = None  # the layers below, stacked as dive does
        self._paths: dict[str, list[int]] = {}  # path -> [cumulative, min, count]
        self._sizes: list[int] = []

    def entry(self, unsafe_name: str, is_dir: bool, size: int) -> None:
        """One tar entry: its name as in the tar, whether it is a directory, and the size
        its header gives (0 but for regular files)."""
        name = unsafe_name
        if "//" in name or "/." in name or name.startswith("."):
            name = posixpath.normpath(name)  # Go's path.Clean, as dive reads names
        name = name.strip("/")
        if name in (".", ""):
            return
        self._layer_size += size
        self._layer.add(name, is_dir, size)

    def end_layer(self) -> None:
        tree, self._layer = self._layer, _Tree()
        self._sizes.append(self._layer_size)
        self._layer_size = 0
        # dive looks the first layer's whiteouts up in that layer itself
        self._visit(tree, tree if self._stacked is None else self._stacked)
        self._stacked = _stack(tree.copy() if self._stacked is None else self._stacked, tree)

    def _visit(self, tree: _Tree, below: _Tree) -> None:
        """Count the layer's leaves. Their order matters only when a whiteout names a
        path that is not below (dive's walk ends there): then walk in dive's order."""
        leaves = [p for p, n in tree.nodes.items() if p and not n.children]
        if any((t := _target(p)) is not None and t not in below.nodes for p in leaves):
            leaves = [p for p in tree.child_first() if not tree.nodes[p].children]
        paths = self._paths
        for path in leaves:
            target = _target(path)
            key = "/" + (path if target is None else target)
            data = paths.get(key)
            if data is None:
                data = paths[key] = [0, -1, 0]
            if target is None:
                size = tree.nodes[path].size
            else:
                prev = below.nodes.get(target)
                if prev is None:
                    return  # dive's visitor fails here and the layer's walk ends
                size = below.subtree_size(target) if prev.is_dir else 0
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


def _stack(lower: _Tree, upper: _Tree) -> _Tree:
    """dive's Stack: every node of `upper` grafted onto `lower`, children first: a
    whiteout removes its path, anything else is added with its payload (an implied
    parent's empty one too). The order matters only when a layer deletes a path it
    also writes; otherwise the grafts commute."""
    paths = [p for p in upper.nodes if p]
    if any((t := _target(p)) is not None and t in upper.nodes for p in paths):
        paths = upper.child_first()
    for path in paths:
        target = _target(path)
        if target is not None:
            lower.remove(target)
        else:
            node = upper.nodes[path]
            lower.add(path, node.is_dir, node.size)
    return lower


def percent_text(v: float, digits: int = 2) -> str:
    """A percentage as dive prints it: `NaN %` for an image with no user layer."""
    return "NaN %" if math.isnan(v) else f"{v:.{digits}f} %"
