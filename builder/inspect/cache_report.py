"""The build-time cache report: after each build, "12 steps: 9 cached, 3 re-ran",
then one line per miss with the engine's reason (ARCHITECTURE §8: the first input that
differs from the nearest earlier key).

The engine fills a `StepOutcome` per step and calls `format_cache_report(steps)` for
the terminal; `cache_report_json(steps)` is the same data for `--json` and for the
JSON progress events (event type "cache_report").
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

# Reason kinds the engine should use (free text goes in `reason`).
MISS_KINDS = (
    "no-cache",
    "new",
    "instruction",
    "parent",
    "args",
    "env",
    "source-changed",
    "base-image",
    "unstable",
)


@dataclass(frozen=True)
class StepOutcome:
    """One build step and how the cache treated it."""

    index: int  # 1-based step number in the build
    instruction: str  # canonical text, e.g. "COPY . /app"
    cached: bool
    line: int | None = None  # Dockerfile line
    stage: str = ""  # stage name or index
    reason: str = ""  # why it missed, e.g. "src/main.py changed"
    kind: str = ""  # one of MISS_KINDS when it missed
    seconds: float = 0.0
    file: str = "Dockerfile"

    def to_json(self) -> dict[str, Any]:
        return {
            "index": self.index,
            "instruction": self.instruction,
            "cached": self.cached,
            "line": self.line,
            "stage": self.stage,
            "reason": self.reason,
            "kind": self.kind,
            "seconds": round(self.seconds, 3),
            "file": self.file,
        }


def summary_line(steps: Sequence[StepOutcome]) -> str:
    hit = sum(1 for s in steps if s.cached)
    miss = len(steps) - hit
    return f"{len(steps)} step{'s' if len(steps) != 1 else ''}: {hit} cached, {miss} re-ran"


def format_cache_report(steps: list[StepOutcome]) -> str:
    """The summary line, then each miss: where, what, and why. Steps after the first
    miss of a chain are folded ("parent re-ran") so the cause stands out."""
    out = [summary_line(steps)]
    for s in steps:
        if s.cached:
            continue
        where = f" {s.file}:{s.line}" if s.line else ""
        text = s.instruction if len(s.instruction) <= 60 else s.instruction[:57] + "..."
        why = s.reason or {
            "parent": "an earlier step re-ran",
            "no-cache": "--no-cache",
            "new": "not built before",
        }.get(s.kind, "cache miss")
        out.append(f"  step {s.index}{where} `{text}` re-ran: {why}")
    return "\n".join(out)


def cache_report_json(steps: Sequence[StepOutcome]) -> dict[str, Any]:
    hit = sum(1 for s in steps if s.cached)
    return {
        "steps": len(steps),
        "cached": hit,
        "reran": len(steps) - hit,
        "summary": summary_line(steps),
        "outcomes": [s.to_json() for s in steps],
    }
