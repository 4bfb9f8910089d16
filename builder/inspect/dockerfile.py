"""A light, lenient Dockerfile reader for the pitfall checks.

Owns turning Dockerfile text into `Step`s: keyword, argument text (continuations
joined), flags (`--from=...`), first and last line, and stage index. It is not the
build front end (builder/frontend/syntax.py is): inspect must read any Dockerfile a user hands
it, even one the strict parser would reject, and must stay independent of the build
engine. Heredoc bodies are kept in the step's text.
"""

from __future__ import annotations

import json
import re
import shlex
from dataclasses import dataclass, field

LAYER_KEYWORDS = frozenset({"RUN", "COPY", "ADD"})
_HEREDOC = re.compile(r"<<-?\s*[\"']?(\w+)[\"']?")


@dataclass(frozen=True)
class Step:
    """One Dockerfile instruction as inspect maps it to layers."""

    keyword: str  # upper case
    args: str  # argument text after the flags, continuations joined with spaces
    line: int
    end_line: int
    stage: int
    flags: dict[str, str] = field(default_factory=dict, compare=False)
    original: str = ""

    @property
    def makes_layer(self) -> bool:
        return self.keyword in LAYER_KEYWORDS

    def words(self) -> list[str]:
        """JSON-form or shell-form arguments as a word list (best effort)."""
        text = self.args.strip()
        if text.startswith("["):
            try:
                return [str(w) for w in json.loads(text)]
            except ValueError:
                pass
        try:
            return shlex.split(text, comments=False)
        except ValueError:
            return text.split()


@dataclass(frozen=True)
class Dockerfile:
    """The steps of a Dockerfile, in order, with the file's name."""

    steps: tuple[Step, ...]
    path: str = "Dockerfile"

    def stage_steps(self, stage: int) -> list[Step]:
        return [s for s in self.steps if s.stage == stage]

    @property
    def final_stage(self) -> int:
        return max((s.stage for s in self.steps), default=0)

    def at_line(self, line: int) -> Step | None:
        for s in self.steps:
            if s.line <= line <= s.end_line:
                return s
        return None


def _split_flags(rest: str) -> tuple[dict[str, str], str]:
    flags: dict[str, str] = {}
    while rest.startswith("--"):
        m = re.match(r"--([\w-]+)(?:=(\S*))?\s*", rest)
        if not m:
            break
        flags[m.group(1)] = m.group(2) or ""
        rest = rest[m.end() :]
    return flags, rest


def parse_dockerfile(text: str, path: str = "Dockerfile") -> Dockerfile:
    lines = text.splitlines()
    escape = "\\"
    for ln in lines[:5]:
        m = re.match(r"#\s*escape\s*=\s*(\S)", ln)
        if m:
            escape = m.group(1)
    steps: list[Step] = []
    stage = -1
    i = 0
    while i < len(lines):
        raw = lines[i]
        s = raw.strip()
        if not s or s.startswith("#"):
            i += 1
            continue
        start = i
        parts = [s]
        orig = [raw]
        while parts[-1].endswith(escape) and i + 1 < len(lines):
            parts[-1] = parts[-1][:-1].rstrip()
            i += 1
            nxt = lines[i].strip()
            orig.append(lines[i])
            if nxt.startswith("#"):
                parts.append("")
                continue
            parts.append(nxt)
        joined = " ".join(p for p in parts if p)
        m = _HEREDOC.search(joined)
        if m and joined.split(None, 1)[0].upper() in ("RUN", "COPY", "ADD"):
            end_word = m.group(1)
            while i + 1 < len(lines):
                i += 1
                orig.append(lines[i])
                if lines[i].strip() == end_word:
                    break
                joined += "\n" + lines[i]
        kw, _, rest = joined.partition(" ")
        kw = kw.upper()
        if kw == "FROM":
            stage += 1
        flags, args = _split_flags(rest.strip())
        steps.append(
            Step(
                kw,
                args,
                start + 1,
                i + 1,
                max(stage, 0) if kw != "ARG" or stage >= 0 else -1,
                flags,
                "\n".join(orig),
            )
        )
        i += 1
    return Dockerfile(tuple(steps), path)
