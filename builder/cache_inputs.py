"""What a step's cache key covers (ARCHITECTURE §8): the record, and how it is made.

Owns `CacheInputs` and the only places that fill one in:
- `step_record(step, ...)`: a planned step's record, from the front end's typed step:
  the instruction as written (one line), the canonical text after expansion
  (`extra["expanded"]`), the build args and env it sees and the stage's platform, plus
  what only the build knows, handed in by the step's instruction family: the content
  hashes of COPY/ADD sources (`sources`) and the other facts that decide the result
  (`extra`: a `--from` stage's key, bind-mount sources, the network, and for RUN and
  WORKDIR the user, workdir and shell of the config, from `runs_as`).
- `base_record(base, digest, platform)`: a stage's FROM (scratch or an image digest).
- `plan_record(step, platform)`: what `pybuild plan --json` shows: the part of
  `step_record` the plan alone decides.

`builder.cache.compute_key(parent, record)` hashes the parent key and `to_json()`
without the position (which only names the step in miss reasons). No I/O here: the
front end's plan dump uses this module too.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from builder.frontend.planned import PlannedStep

# Above this many source files, an entry keeps only the aggregate source hash.
MAX_STORED_SOURCES = 5000


@dataclass(frozen=True)
class CacheInputs:
    """Everything a step's result depends on (besides its parent)."""

    position: str
    instruction: str
    args: Mapping[str, str] = field(default_factory=dict)
    env: Mapping[str, str] = field(default_factory=dict)
    platform: str = ""
    sources: Mapping[str, str] = field(default_factory=dict)
    extra: Mapping[str, str] = field(default_factory=dict)

    def sources_digest(self) -> str:
        h = hashlib.sha256()
        for p in sorted(self.sources):
            h.update(f"{p}\0{self.sources[p]}\n".encode())
        return "sha256:" + h.hexdigest()

    def to_json(self, keep_sources: bool = True) -> dict[str, Any]:
        out: dict[str, Any] = {
            "instruction": self.instruction,
            "args": dict(sorted(self.args.items())),
            "env": dict(sorted(self.env.items())),
            "platform": self.platform,
            "sources_digest": self.sources_digest(),
            "extra": dict(sorted(self.extra.items())),
        }
        if keep_sources and len(self.sources) <= MAX_STORED_SOURCES:
            out["sources"] = dict(sorted(self.sources.items()))
        return out


def step_record(
    step: PlannedStep,
    *,
    position: str,
    platform: str,
    sources: Mapping[str, str] | None = None,
    extra: Mapping[str, str] | None = None,
) -> CacheInputs:
    """The record of one planned step; `sources` and `extra` are the build's facts."""
    facts = dict(extra or {})
    if step.text:
        facts["expanded"] = step.text
    return CacheInputs(
        position=position,
        instruction=step.written,
        args=dict(step.args),
        env=dict(step.env),
        platform=platform,
        sources=dict(sources or {}),
        extra=facts,
    )


def base_record(base: str, digest: str | None, platform: str) -> CacheInputs:
    """A stage's FROM: `scratch`, or an image by the manifest digest it resolved to."""
    if digest is None:
        return CacheInputs("scratch", "FROM scratch", platform=platform)
    return CacheInputs(f"image {base}", f"FROM {base}@{digest}", platform=platform)


def runs_as(user: str | None, working_dir: str | None) -> dict[str, str]:
    """What a RUN or WORKDIR runs as and where: part of the config, not of the text."""
    return {"user": user or "", "workdir": working_dir or "/"}


def plan_record(step: PlannedStep, platform: str) -> str:
    """Canonical JSON of what the plan decides of a step's record: the instruction, the
    expanded text, the args, env and platform (the build adds the parent key, source
    hashes and the facts of `step_record`'s `extra`)."""
    rec = step_record(step, position="", platform=platform)
    doc = {k: v for k, v in rec.to_json(keep_sources=False).items() if k != "sources_digest"}
    return json.dumps(doc, sort_keys=True, ensure_ascii=False, separators=(",", ":"))
