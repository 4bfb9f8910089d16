"""The build context and any other copy source tree (a stage's or an image's rootfs).

Owns: the view of a source tree with `.dockerignore` applied (ignored paths do not
exist, as in BuildKit where they are never sent), scoped path resolution (symlinks are
followed but bounded to the tree root, like continuity's `fs.RootPath`), Go-style
wildcard matching of COPY/ADD sources, the ordered walk of a source, and the errors of
COPY/ADD. Nothing here opens a file's content; `builder.filehash` does that.
"""

from __future__ import annotations

import os
import posixpath
import re
import stat
from collections import deque
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from builder.errors import BuildError, Span
from builder.frontend.dockerignore import PatternMatcher, find_ignore_file, read_ignore_file

MAX_SYMLINKS = 255


class CopyError(BuildError):
    """A COPY/ADD failure, printed on one line, BuildKit style. The engine adds the
    Dockerfile location with `located()`."""

    def __init__(
        self,
        message: str,
        instruction: str = "COPY",
        path: str = "",
        span: Span | None = None,
        file: str = "",
    ) -> None:
        self.message = message
        self.instruction = instruction
        self.path = path
        self.span = span
        self.file = file
        where = f"{file or 'Dockerfile'}:{span.line}:{span.column}: " if span else ""
        super().__init__(f"{where}{instruction} failed: {message}")

    def located(self, file: str, span: Span | None) -> CopyError:
        return type(self)(self.message, self.instruction, self.path, span, file)


class SourceNotFound(CopyError):
    pass


class OutsideContext(CopyError):
    pass


class TooManyLinks(CopyError):
    pass


class DestinationError(CopyError):
    pass


def not_found(unsafe_spec: str, instruction: str = "COPY") -> SourceNotFound:
    return SourceNotFound(
        "file not found in build context or excluded by .dockerignore: "
        f"stat {unsafe_spec}: file does not exist",
        instruction,
        unsafe_spec,
    )


# --- Go filepath.Match ---------------------------------------------------------

_MAGIC = re.compile(r"[*?\[\\]")


def has_wildcard(unsafe_pattern: str) -> bool:
    return bool(_MAGIC.search(unsafe_pattern))


def _component_regex(pattern: str) -> re.Pattern[str]:
    """Translate one path component of a Go filepath.Match pattern."""
    out, i, n = [], 0, len(pattern)
    while i < n:
        c = pattern[i]
        if c == "*":
            out.append("[^/]*")
        elif c == "?":
            out.append("[^/]")
        elif c == "\\" and i + 1 < n:
            i += 1
            out.append(re.escape(pattern[i]))
        elif c == "[":
            j = i + 1
            neg = j < n and pattern[j] == "^"
            j += neg
            cls = []
            while j < n and (pattern[j] != "]" or j == i + 1 + neg):
                if pattern[j] == "\\" and j + 1 < n:
                    j += 1
                cls.append(re.escape(pattern[j]) if pattern[j] != "-" else "-")
                j += 1
            if j >= n:
                raise ValueError(f"syntax error in pattern {pattern!r}")
            out.append(("[^/" if neg else "[") + "".join(cls) + "]")
            i = j
        else:
            out.append(re.escape(c))
        i += 1
    return re.compile("".join(out) + r"\Z", re.S)


def go_match(pattern: str, name: str) -> bool:
    return bool(_component_regex(pattern).match(name))


# --- the tree ------------------------------------------------------------------


@dataclass(frozen=True)
class Entry:
    """One walked entry: `rel` is relative to the tree root ('' is the root)."""

    rel: str
    st: os.stat_result
    link: str = ""

    @property
    def kind(self) -> str:
        m = self.st.st_mode
        if stat.S_ISDIR(m):
            return "dir"
        if stat.S_ISREG(m):
            return "file"
        if stat.S_ISLNK(m):
            return "symlink"
        if stat.S_ISFIFO(m):
            return "fifo"
        if stat.S_ISCHR(m) or stat.S_ISBLK(m):
            return "device"
        return "socket"


def clean_rel(unsafe_path: str) -> str | None:
    """Lexically clean a source path against the tree root; None if it climbs out."""
    parts: list[str] = []
    for p in unsafe_path.split("/"):
        if p in ("", "."):
            continue
        if p == "..":
            if not parts:
                return None
            parts.pop()
        else:
            parts.append(p)
    return "/".join(parts)


class SourceTree:
    """A directory read as a copy source. `ignore` is a `builder.frontend.dockerignore`
    PatternMatcher: ignored paths do not exist, except directories a `!` pattern
    may re-include below, which are walked for their kept children."""

    def __init__(
        self, root: str | Path, ignore: PatternMatcher | None = None, is_context: bool = True
    ) -> None:
        self.root = os.path.abspath(root)
        self._prefix = self.root.rstrip("/") + "/"
        self.ignore = ignore
        self.is_context = is_context
        self._memo: dict[str, tuple[bool, ...]] = {}

    @classmethod
    def context(cls, context_dir: str | Path, dockerfile: str | Path | None = None) -> SourceTree:
        """The build context with its ignore file (<Dockerfile>.dockerignore first)."""
        found = find_ignore_file(context_dir, dockerfile)
        patterns = read_ignore_file(found.read_text()) if found else []
        return cls.with_patterns(context_dir, patterns)

    @classmethod
    def with_patterns(cls, root: str | Path, patterns: list[str]) -> SourceTree:
        if not patterns:
            return cls(root)
        return cls(root, PatternMatcher(patterns))

    def abs(self, rel: str) -> str:
        return f"{self._prefix}{rel}" if rel else self.root

    def reincludes(self, rel: str) -> bool:
        return self.ignore is not None and self.ignore.could_reinclude_below(rel)

    def ignored(self, rel: str) -> bool:
        """moby MatchesOrParentMatches, with each directory's per-pattern results
        memoised (moby's MatchesUsingParentResults), so a walk does not re-match
        every ancestor of every path."""
        if not rel or self.ignore is None:
            return False
        pats = self.ignore.patterns
        matched = False
        for p, hit in zip(pats, self._hits(rel), strict=True):
            if hit:  # the last pattern that hits decides (moby's loop is equivalent)
                matched = not p.exclusion
        return matched

    def _hits(self, rel: str) -> tuple[bool, ...]:
        """Per pattern: does it match `rel` or one of its parents."""
        pats = self.ignore.patterns  # type: ignore[union-attr]
        parts = rel.split("/")
        i = len(parts) - 1
        while i > 0 and "/".join(parts[:i]) not in self._memo:
            i -= 1
        hits = (
            self._memo.get("/".join(parts[:i]), (False,) * len(pats)) if i else (False,) * len(pats)
        )
        for j in range(max(i, 0), len(parts)):
            path = "/".join(parts[: j + 1])
            hits = tuple(h or p.match(path) for h, p in zip(hits, pats, strict=True))
            if j < len(parts) - 1:
                self._memo[path] = hits
        return hits

    def lstat(self, rel: str) -> os.stat_result | None:
        """lstat within the view: ignored (and sockets) do not exist."""
        try:
            st = os.lstat(self.abs(rel))
        except (FileNotFoundError, NotADirectoryError):
            return None
        if stat.S_ISSOCK(st.st_mode):
            return None
        if self.ignored(rel) and not (stat.S_ISDIR(st.st_mode) and self.reincludes(rel)):
            return None
        return st

    def resolve(
        self, unsafe_path: str, follow_final: bool = True, instruction: str = "COPY"
    ) -> str:
        """Scoped resolution: symlinks are followed, absolute targets restart at the
        root and `..` stops at the root. Returns a clean rel path that may not exist."""
        todo = deque(p for p in unsafe_path.split("/") if p not in ("", "."))
        done: list[str] = []
        links = 0
        missing = False  # past a missing component the rest is only lexical
        while todo:
            part = todo.popleft()
            if part == "..":
                if done:
                    done.pop()
                continue
            cand = "/".join([*done, part])
            if missing or (not todo and not follow_final):
                done.append(part)
                continue
            st = self.lstat(cand)
            if st is None or not stat.S_ISLNK(st.st_mode):
                done.append(part)
                missing = st is None
                continue
            links += 1
            if links > MAX_SYMLINKS:
                raise TooManyLinks(
                    f"too many levels of symbolic links: {unsafe_path}", instruction, unsafe_path
                )
            target = os.readlink(self.abs(cand))
            if target.startswith("/"):
                done = []
            todo.extendleft(reversed([p for p in target.split("/") if p not in ("", ".")]))
        return "/".join(done)

    def walk(self, rel: str) -> Iterator[Entry]:
        """`rel` itself (not followed) then its subtree, sorted, symlinks not followed.
        An ignored dir walked only for `!` exceptions is yielded only if it keeps
        something. Iterative, so a very deep tree cannot exhaust the stack."""
        st = self.lstat(rel)
        if st is None:
            return
        yield Entry(rel, st, os.readlink(self.abs(rel)) if stat.S_ISLNK(st.st_mode) else "")
        if not stat.S_ISDIR(st.st_mode):
            return
        stack = [(rel, iter(self._names(rel)))]
        pending: list[Entry] = []  # ignored dirs, emitted only before a kept child
        while stack:
            parent, names = stack[-1]
            name = next(names, None)
            if name is None:
                stack.pop()
                if pending and pending[-1].rel == parent:
                    pending.pop()
                continue
            child = f"{parent}/{name}" if parent else name
            st = self.lstat(child)
            if st is None:
                continue
            if stat.S_ISDIR(st.st_mode):
                e = Entry(child, st)
                if self.ignored(child):
                    pending.append(e)
                else:
                    yield from pending
                    pending.clear()
                    yield e
                stack.append((child, iter(self._names(child))))
                continue
            yield from pending
            pending.clear()
            yield Entry(child, st, os.readlink(self.abs(child)) if stat.S_ISLNK(st.st_mode) else "")

    def _names(self, rel: str) -> list[str]:
        try:
            with os.scandir(self.abs(rel)) as it:
                return sorted(e.name for e in it)
        except (FileNotFoundError, NotADirectoryError):
            return []


# --- selecting sources -----------------------------------------------------------


@dataclass(frozen=True)
class Source:
    """One matched source. `rel` is the followed path in the tree, `name` the base
    name as written/matched (the destination name), `keep` the path kept under the
    destination with --parents ('' otherwise)."""

    spec: str
    rel: str
    name: str
    is_dir: bool
    keep: str = ""
    matched: str = ""


def select_sources(
    tree: SourceTree, unsafe_specs: list[str], *, parents: bool = False, instruction: str = "COPY"
) -> list[Source]:
    """Resolve each source spec (wildcards allowed) to existing sources, in order."""
    out: list[Source] = []
    for spec in unsafe_specs:
        pivot = ""
        body = spec
        if parents and "/./" in f"/{spec}":
            head, _, tail = f"/{spec}".partition("/./")
            pivot = clean_rel(head) or ""
            body = f"{head}/{tail}"
        rel = clean_rel(body)
        if rel is None:
            raise OutsideContext(
                f"forbidden path outside the build context: {spec} ()", instruction, spec
            )
        matches = _expand(tree, rel) if has_wildcard(rel) else [rel]
        found = 0
        for m in matches:
            followed = tree.resolve(m, instruction=instruction)
            st = tree.lstat(followed)
            if st is None or stat.S_ISLNK(st.st_mode):
                continue
            found += 1
            keep = ""
            if parents:
                keep = m[len(pivot) :].lstrip("/") if pivot and m.startswith(pivot) else m
            out.append(
                Source(
                    spec, followed, posixpath.basename(m) or "", stat.S_ISDIR(st.st_mode), keep, m
                )
            )
        if not found:
            raise not_found(spec, instruction)
    return out


def _expand(tree: SourceTree, rel: str) -> list[str]:
    """fsutil resolveWildcards: match component by component, sorted; intermediate
    components must be real directories (walks do not follow symlinks)."""
    parts = rel.split("/")
    prefix: list[str] = []
    while parts and not has_wildcard(parts[0]):
        prefix.append(parts.pop(0))
    base = tree.resolve("/".join(prefix)) if prefix else ""
    level = [(base, "/".join(prefix))]
    for i, pat in enumerate(parts):
        rx = _component_regex(pat)
        nxt = []
        for real, shown in level:
            st = tree.lstat(real)
            if st is None or not stat.S_ISDIR(st.st_mode):
                continue
            for name in sorted(os.listdir(tree.abs(real))):
                child = f"{real}/{name}" if real else name
                if rx.match(name) and tree.lstat(child) is not None:
                    nxt.append((child, f"{shown}/{name}" if shown else name))
        level = nxt
        if i < len(parts) - 1:
            level = [(r, s) for r, s in level if stat.S_ISDIR(os.lstat(tree.abs(r)).st_mode)]
    return [shown for _, shown in level]
