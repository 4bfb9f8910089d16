"""The pitfall framework: catalog entries (id, title, fix with a before/after
snippet), findings (lines, measured cost), and the `Context` every check reads.

A check is a function `check(ctx) -> list[Finding]` registered with `@check(entry)`.
Checks are pure: they read the merged tree, the per-layer stats and the steps (from
the Dockerfile, or from history when no Dockerfile is given) and never touch I/O.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from builder.inspect.dockerfile import Step
from builder.inspect.layers import ImageTree
from builder.units import decimal_size


@dataclass(frozen=True)
class Fix:
    """How to fix a pitfall: a summary and the Dockerfile before and after."""

    summary: str
    before: str
    after: str

    def to_json(self) -> dict[str, str]:
        return {"summary": self.summary, "before": self.before, "after": self.after}


@dataclass(frozen=True)
class CatalogEntry:
    """A pitfall the catalogue knows, with its fix."""

    id: str
    title: str
    fix: Fix
    cost: str  # what the measured cost means, for the docs


@dataclass(frozen=True)
class Finding:
    """One pitfall found in an image, with its lines and its cost."""

    id: str
    title: str
    lines: tuple[int, ...]  # Dockerfile lines involved, ascending; empty when unknown
    bytes: int  # measured bytes this costs in the image
    steps: int  # build steps this makes re-run needlessly (0 when the cost is bytes)
    detail: str  # one sentence naming the line, the cost and what happened
    fix: Fix
    layers: tuple[int, ...] = ()

    def to_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "title": self.title,
            "lines": list(self.lines),
            "bytes": self.bytes,
            "steps": self.steps,
            "detail": self.detail,
            "layers": list(self.layers),
            "fix": self.fix.to_json(),
        }


@dataclass
class LayerInfo:
    """A layer as the checks see it: stats + the step that made it."""

    index: int
    files_size: int
    step: Step | None
    base: bool


@dataclass
class Context:
    """What a pitfall rule sees: the image tree, the layers and the steps."""

    tree: ImageTree
    layers: list[LayerInfo]
    steps: list[Step]  # every step (all stages when from a Dockerfile)
    final_stage: int
    config: dict[str, Any]
    from_dockerfile: bool
    base_layers: int
    context_dir: str | None = None
    _by_line: dict[int, LayerInfo] = field(default_factory=dict)

    def __post_init__(self) -> None:
        for li in self.layers:
            if li.step is not None:
                self._by_line[li.step.line] = li

    def layer_of(self, step: Step) -> LayerInfo | None:
        return self._by_line.get(step.line)

    def final_steps(self) -> list[Step]:
        return [s for s in self.steps if s.stage == self.final_stage]

    def expand(self, step: Step, text: str) -> str:
        """`$X`/`${X}` replaced by the defaults of the ARGs and ENVs declared before
        `step` (in its stage, and global ARGs); unknown names are left as they are."""
        values: dict[str, str] = {}
        for s in self.steps:
            if s.line >= step.line:
                break
            if s.keyword in ("ARG", "ENV") and s.stage in (-1, step.stage):
                for w in s.words():
                    k, eq, v = w.partition("=")
                    if eq:
                        values[k] = v
        return re.sub(r"\$\{?(\w+)\}?", lambda m: values.get(m.group(1), m.group(0)), text)

    def user_layers(self) -> list[LayerInfo]:
        return [li for li in self.layers if not li.base]

    def visible_bytes(self, layer: int, pred: Callable[[str], bool]) -> int:
        """Bytes of the final image's files that `layer` wrote and `pred` accepts."""
        return sum(rec[1] for p, rec in self.tree.visible.items() if rec[6] == layer and pred(p))


def lines_of(*steps: Step | None) -> tuple[int, ...]:
    return tuple(sorted({s.line for s in steps if s is not None and s.line > 0}))


# --- shell text helpers ------------------------------------------------------------

_SPLIT = re.compile(r"&&|\|\||;|\||\n")


def commands(run_text: str) -> list[str]:
    """The simple commands of a RUN (split on && || ; | and newlines)."""
    text = run_text.strip()
    if text.startswith("["):
        try:
            text = " ".join(json.loads(text))
        except ValueError:
            pass
    return [c.strip() for c in _SPLIT.split(text) if c.strip()]


def human(n: float) -> str:
    """Bytes for people: 812 B, 1.2 MB (decimal units, as docker prints them)."""
    return decimal_size(n, ".1f", " ")


def counted(n: int, noun: str) -> str:
    """`1 file`, `3 files`: a count with its noun in the right number."""
    return f"{n} {noun}{'s' if n != 1 else ''}"


def steps_text(finding_id: str, steps: int) -> str:
    """A finding's step cost as the reports show it: `2 extra layers`, `3 steps re-run`."""
    if finding_id == "many-layers":
        return counted(steps, "extra layer")
    return f"{counted(steps, 'step')} re-run"


def where(step: Step | None, layer: int) -> str:
    """How findings name a layer: `line N` of the Dockerfile step that made it, else
    `layer N` (base layers, and history steps without a line)."""
    return f"line {step.line}" if step and step.line > 0 else f"layer {layer}"


REGISTRY: list[tuple[CatalogEntry, Callable[[Context], list[Finding]]]] = []


def check(
    entry: CatalogEntry,
) -> Callable[[Callable[[Context], list[Finding]]], Callable[[Context], list[Finding]]]:
    def deco(fn: Callable[[Context], list[Finding]]) -> Callable[[Context], list[Finding]]:
        REGISTRY.append((entry, fn))
        return fn

    return deco


def finding(
    entry: CatalogEntry,
    lines: tuple[int, ...],
    nbytes: int,
    detail: str,
    steps: int = 0,
    layers: tuple[int, ...] = (),
) -> Finding:
    return Finding(entry.id, entry.title, lines, nbytes, steps, detail, entry.fix, layers)


def copies_whole_context(s: Step) -> bool:
    """A COPY or ADD of the whole build context (`COPY . /app`), not from a stage."""
    if s.keyword not in ("COPY", "ADD") or "from" in s.flags:
        return False
    return any(w in (".", "./") for w in s.words()[:-1])
