""".dockerignore reading and matching with moby/patternmatcher semantics.

Public API (stable):
- `read_ignore_file(text: str | None) -> list[str]`: ignorefile.ReadAll (BOM, `#`
  comments at column 1, trimming, `filepath.Clean`, leading `/` removed, `!` kept).
- `PatternMatcher(patterns)`: raises `DockerignoreError` for a bad pattern.
  - `.matches(path) -> bool`: MatchesOrParentMatches — a path is excluded when it or
    one of its parents matches, the last matching pattern wins, `!` re-includes.
  - `.could_reinclude_below(dir) -> bool`: False when no `!` pattern can match
    anything under `dir`, so a context walker may skip an excluded directory whole.
  - `.exclusions`: whether any `!` pattern exists.
- `find_ignore_file(context_dir, dockerfile_path) -> Path | None`:
  `<Dockerfile>.dockerignore` beside the Dockerfile wins over `CONTEXT/.dockerignore`.
- `go_clean(path)`: Go's `filepath.Clean`.

Patterns: Go `filepath.Match` (`*`, `?`, `[...]`, `\\` escapes) plus `**` for any number
of path segments.
"""

from __future__ import annotations

import os
import re
import warnings
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

from builder.errors import BuildError

_ESCAPE = frozenset(".+()|{}$")


class DockerignoreError(BuildError):
    """A .dockerignore pattern is malformed (`filepath.ErrBadPattern`)."""

    exit_code = 2


def go_clean(path: str) -> str:
    """Go's path/filepath.Clean for slash paths."""
    if not path:
        return "."
    rooted = path.startswith("/")
    parts: list[str] = []
    for seg in path.split("/"):
        if seg in ("", "."):
            continue
        if seg == "..":
            if parts and parts[-1] != "..":
                parts.pop()
            elif not rooted:
                parts.append("..")
            continue
        parts.append(seg)
    out = "/".join(parts)
    return "/" + out if rooted else (out or ".")


def read_ignore_file(text: str | None) -> list[str]:
    if text is None:
        return []
    out: list[str] = []
    for i, line in enumerate(text.split("\n")):
        if line.endswith("\r"):
            line = line[:-1]
        if i == 0 and line.startswith("\ufeff"):
            line = line[1:]
        if line.startswith("#"):
            continue
        pattern = line.strip()
        if not pattern:
            continue
        invert = pattern[0] == "!"
        if invert:
            pattern = pattern[1:].strip()
        if pattern:
            pattern = go_clean(pattern)
            if len(pattern) > 1 and pattern[0] == "/":
                pattern = pattern[1:]
        out.append("!" + pattern if invert else pattern)
    return out


def _bad() -> DockerignoreError:
    return DockerignoreError("syntax error in pattern")


def _get_esc(chunk: str, i: int) -> int:
    """Validate one class item at chunk[i]; returns the index after it."""
    if i >= len(chunk) or chunk[i] in "-]":
        raise _bad()
    if chunk[i] == "\\":
        i += 1
        if i >= len(chunk):
            raise _bad()
    i += 1
    if i >= len(chunk):
        raise _bad()
    return i


def _check_syntax(pattern: str) -> None:
    """Raise like Go's filepath.Match would for a malformed pattern."""
    i, n = 0, len(pattern)
    while i < n:
        ch = pattern[i]
        if ch == "[":
            i += 1
            if i < n and pattern[i] == "^":
                i += 1
            nrange = 0
            while True:
                if i < n and pattern[i] == "]" and nrange > 0:
                    i += 1
                    break
                i = _get_esc(pattern, i)
                if pattern[i] == "-":
                    i = _get_esc(pattern, i + 1)
                nrange += 1
        elif ch == "\\":
            if i + 1 >= n:
                raise _bad()
            i += 2
        else:
            i += 1


def _compile(pattern: str) -> tuple[str, re.Pattern[str] | None]:
    """(match type, regex) for a cleaned pattern, as patternmatcher's compile()."""
    out, kind, i, step = ["^"], "exact", 0, 0
    n = len(pattern)
    while i < n:
        ch = pattern[i]
        i += 1
        if ch == "*":
            if i < n and pattern[i] == "*":
                i += 1
                if i < n and pattern[i] == "/":
                    i += 1
                if i >= n:
                    if kind == "exact":
                        kind = "prefix"
                    else:
                        out.append(".*")
                        kind = "regexp"
                else:
                    out.append("(.*/)?")
                    kind = "regexp"
                if step == 0:
                    kind = "suffix"
            else:
                out.append("[^/]*")
                kind = "regexp"
        elif ch == "?":
            out.append("[^/]")
            kind = "regexp"
        elif ch in _ESCAPE:
            out.append("\\" + ch)
        elif ch == "\\":
            if i < n:
                out.append("\\" + pattern[i])
                i += 1
                kind = "regexp"
            else:
                out.append("\\\\")
        elif ch in "[]":
            out.append(ch)
            kind = "regexp"
        else:
            out.append(ch)
        step += 1
    if kind != "regexp":
        return kind, None
    out.append("$")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            return kind, re.compile("".join(out))
    except re.error:
        return "bad", None


@dataclass
class _Pattern:
    """One compiled .dockerignore line."""

    text: str
    exclusion: bool
    dirs: list[str] = field(default_factory=list)
    kind: str = ""
    regex: re.Pattern[str] | None = None

    def match(self, path: str) -> bool:
        if not self.kind:
            self.kind, self.regex = _compile(self.text)
        if self.kind == "exact":
            return path == self.text
        if self.kind == "prefix":
            return path.startswith(self.text[:-2])
        if self.kind == "suffix":
            suffix = self.text[2:]
            return path.endswith(suffix) or (suffix[:1] == "/" and path == suffix[1:])
        if self.kind == "regexp" and self.regex is not None:
            return self.regex.match(path) is not None
        raise _bad()


class PatternMatcher:
    def __init__(self, patterns: Iterable[str]) -> None:
        self.patterns: list[_Pattern] = []
        for raw in patterns:
            p = raw.strip()
            if not p:
                continue
            p = go_clean(p)
            exclusion = p[0] == "!"
            if exclusion:
                if len(p) == 1:
                    raise DockerignoreError('illegal exclusion pattern: "!"')
                p = p[1:]
            _check_syntax(p)
            self.patterns.append(_Pattern(p, exclusion, p.split("/")))
        self.exclusions = any(p.exclusion for p in self.patterns)

    def matches(self, path: str) -> bool:
        path = go_clean(path)
        if path == ".":
            return False
        parent = path.rsplit("/", 1)[0] if "/" in path else "."
        parents = parent.split("/")
        matched = False
        for pattern in self.patterns:
            if pattern.exclusion != matched:
                continue
            hit = pattern.match(path)
            if not hit and parent != ".":
                hit = any(pattern.match("/".join(parents[: i + 1])) for i in range(len(parents)))
            if hit:
                matched = not pattern.exclusion
        return matched

    def could_reinclude_below(self, directory: str) -> bool:
        parts = [] if go_clean(directory) == "." else go_clean(directory).split("/")
        for pattern in self.patterns:
            if pattern.exclusion and _may_match_below(pattern.dirs, parts):
                return True
        return False


def _may_match_below(dirs: list[str], parts: list[str]) -> bool:
    for i, part in enumerate(parts):
        if i >= len(dirs) or "**" in dirs[i]:
            return True
        kind, rx = _compile(dirs[i])
        if kind == "exact" and dirs[i] != part:
            return False
        if kind == "regexp" and rx is not None and not rx.match(part):
            return False
    return True


def find_ignore_file(
    context_dir: str | Path, dockerfile_path: str | Path | None = None
) -> Path | None:
    if dockerfile_path is not None and str(dockerfile_path) != "-":
        specific = str(dockerfile_path) + ".dockerignore"
        if os.path.isfile(specific):
            return Path(specific)
    generic = os.path.join(context_dir, ".dockerignore")
    return Path(generic) if os.path.isfile(generic) else None
