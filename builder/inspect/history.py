"""History entries -> layers and Dockerfile lines.

Owns:
- reading the line marker pybuild writes into each history entry's `comment`
  (`pybuild:line=7`, `pybuild:line=7-9`, `pybuild:build=ID`; see the package doc);
- normalising `created_by` as BuildKit, the classic builder and buildah write it into
  (keyword, text);
- best-effort matching of history entries to the steps of a Dockerfile given with -f,
  aligning from the end (the base image's entries come first);
- deciding how many layers the base image brought.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from builder.frontend.instructions.model import KEYWORDS as INSTRUCTION_KEYWORDS
from builder.inspect.dockerfile import Dockerfile, Step

LINE_MARK = re.compile(r"pybuild:line=(\d+)(?:-(\d+))?")
BUILD_MARK = re.compile(r"pybuild:build=([\w.-]+)")
# the words BuildKit starts a history entry with: every instruction's but FROM's
KEYWORDS = tuple(k for k in INSTRUCTION_KEYWORDS if k != "FROM")


@dataclass(frozen=True)
class HistoryRow:
    """One entry of the image config's history, with its layer."""

    index: int  # position in config.history
    created: str
    created_by: str
    comment: str
    empty_layer: bool
    layer: int | None  # layer index, None for empty-layer entries
    line: int | None  # Dockerfile line (from the marker or a -f match)
    end_line: int | None
    build: str  # pybuild build id from the marker, "" when none


def marker_comment(line: int, end_line: int | None = None, build: str = "") -> str:
    """The comment the engine should write on each history entry it makes."""
    text = f"pybuild:line={line}" + (f"-{end_line}" if end_line and end_line != line else "")
    return text + (f" pybuild:build={build}" if build else "")


def history_rows(config: dict[str, Any], nlayers: int) -> list[HistoryRow]:
    rows = []
    layer = 0
    for i, h in enumerate(config.get("history") or []):
        empty = bool(h.get("empty_layer"))
        comment = str(h.get("comment") or "")
        m = LINE_MARK.search(comment)
        b = BUILD_MARK.search(comment)
        line = int(m.group(1)) if m else None
        end = int(m.group(2)) if m and m.group(2) else line
        idx = None if empty or layer >= nlayers else layer
        if not empty:
            layer += 1
        rows.append(
            HistoryRow(
                i,
                str(h.get("created") or ""),
                str(h.get("created_by") or ""),
                comment,
                empty,
                idx,
                line,
                end,
                b.group(1) if b else "",
            )
        )
    return rows


def normalize_created_by(text: str) -> tuple[str, str]:
    """`RUN /bin/sh -c make # buildkit` -> ("RUN", "make"); `/bin/sh -c #(nop)  ENV A=1`
    -> ("ENV", "A=1"); `|2 A=1 B=2 /bin/sh -c make` -> ("RUN", "make")."""
    t = text.strip().removesuffix("# buildkit").strip()
    nop = re.match(r"^/bin/sh -c #\(nop\)\s*(.*)$", t, re.S)
    if nop:
        t = nop.group(1).strip()
    kw, _, rest = t.partition(" ")
    if kw.upper() in KEYWORDS and (nop or kw.isupper()):
        keyword, t = kw.upper(), rest.strip()
    else:
        keyword = "RUN"
    if keyword == "RUN":
        t = re.sub(r"^\|\d+(\s+\S+=\S*)*\s+", "", t)
        t = re.sub(r"^(/bin/sh|/bin/bash|sh)\s+-c\s+", "", t)
    return keyword, t.strip()


def _ws(s: str) -> str:
    return " ".join(s.replace("\\\n", " ").split())


def _matches(row: HistoryRow, step: Step) -> bool:
    kw, text = normalize_created_by(row.created_by)
    if kw != step.keyword:
        return False
    if kw == "RUN":
        a, b = _ws(text), _ws(step.args)
        return a == b or (len(b) > 8 and (b in a or a in b))
    if kw in ("COPY", "ADD"):
        words = step.words()
        return bool(words) and _ws(text).endswith(words[-1]) or _ws(text) == _ws(step.args)
    return True


def match_dockerfile(rows: list[HistoryRow], df: Dockerfile) -> dict[int, Step]:
    """history index -> step of the final stage, aligned from the end."""
    steps = [s for s in df.stage_steps(df.final_stage) if s.keyword != "FROM"]
    out: dict[int, Step] = {}
    j = len(steps) - 1
    for row in reversed(rows):
        if j < 0:
            break
        for k in range(j, max(-1, j - 4), -1):
            if _matches(row, steps[k]):
                out[row.index] = steps[k]
                j = k - 1
                break
    return out


def base_boundary(rows: list[HistoryRow], matched: dict[int, Step]) -> tuple[int, int]:
    """(layers the base image brought, index of the first history entry of this build).
    With markers: the first entry of the last build. With a -f match: the first matched
    entry. Else only layer 0 is base (dive's rule)."""
    marked = [r for r in rows if r.line is not None]
    first = None
    if marked:
        last_build = marked[-1].build
        first = next(r.index for r in marked if r.build == last_build)
    elif matched:
        first = min(matched)
    if first is None:
        first_layer = next((r.index for r in rows if r.layer is not None), None)
        if first_layer is None:
            return 0, 0
        return 1, first_layer + 1
    return sum(1 for r in rows if r.layer is not None and r.index < first), first


def steps_from_history(rows: list[HistoryRow], first: int) -> list[Step]:
    """Pseudo-steps for the checks when no Dockerfile is given: the entries of this
    build, with the marker line or a unique negative pseudo-line."""
    out = []
    for r in rows[first:]:
        kw, text = normalize_created_by(r.created_by)
        line = r.line if r.line is not None else -(r.index + 1)
        out.append(Step(kw, text, line, r.end_line or line, 0, {}, r.created_by))
    return out
