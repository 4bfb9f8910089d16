"""The inspect pipeline: layer streams + config JSON (+ an optional Dockerfile) in,
one `Analysis` out, which every output format (JSON, terminal, HTML, CI) reads.

Layers are streamed one at a time (`ImageTree.add_layer`); nothing else is read from
them. `analyze()` is the storage-independent core; `analyze_source()` wraps an
`ImageSource` from sources.py.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import IO, Any

from builder.inspect.dockerfile import Dockerfile, Step
from builder.inspect.errors import LayerFormatError, SourceError
from builder.inspect.history import (
    HistoryRow,
    base_boundary,
    history_rows,
    match_dockerfile,
    steps_from_history,
)
from builder.inspect.layers import ImageTree
from builder.inspect.pitfalls import Context, Finding, run_checks
from builder.inspect.pitfalls.base import LayerInfo
from builder.inspect.sources import ImageSource
from builder.inspect.waste import WasteReport, compute_waste
from store.errors import StoreError

SCHEMA_ID = "https://pybuild.dev/schemas/inspect-v1.json"


@dataclass(frozen=True)
class LayerInput:
    """One layer to analyse: its digest, size and a way to open its blob."""

    digest: str
    size: int
    open: Callable[[], IO[bytes]]


@dataclass(frozen=True)
class LayerReport:
    """The figures of one layer, as inspect prints them."""

    index: int
    digest: str
    size: int
    uncompressed_size: int
    files_size: int
    created_by: str
    line: int | None
    end_line: int | None
    base: bool
    added: int
    modified: int
    deleted: int
    added_bytes: int
    modified_bytes: int
    deleted_bytes: int

    def to_json(self) -> dict[str, Any]:
        return dict(self.__dict__)


@dataclass
class Analysis:
    """Everything inspect learnt about one image."""

    image: str
    manifest_digest: str
    config_digest: str
    layers: list[LayerReport]
    history: list[HistoryRow]
    waste: WasteReport
    pitfalls: list[Finding]
    line_source: str  # "history" | "dockerfile" | "none"
    dockerfile: str | None = None
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def size(self) -> int:
        return sum(x.size for x in self.layers)

    @property
    def uncompressed_size(self) -> int:
        return sum(x.uncompressed_size for x in self.layers)

    def to_json(self) -> dict[str, Any]:
        w = self.waste
        return {
            "$schema": SCHEMA_ID,
            "image": self.image,
            "manifest_digest": self.manifest_digest,
            "config_digest": self.config_digest,
            "dockerfile": self.dockerfile,
            "line_source": self.line_source,
            "size": self.size,
            "uncompressed_size": self.uncompressed_size,
            "files_size": w.image_files_size,
            "user_size": w.user_files_size,
            "base_layers": w.base_layers,
            "layers": [x.to_json() for x in self.layers],
            "history": [
                {
                    "created": h.created,
                    "created_by": h.created_by,
                    "comment": h.comment,
                    "empty_layer": h.empty_layer,
                    "layer": h.layer,
                    "line": h.line,
                }
                for h in self.history
            ],
            "wasted_bytes": w.wasted_bytes,
            "efficiency": w.efficiency,
            "user_wasted_percent": (
                None if math.isnan(w.user_wasted_percent) else w.user_wasted_percent
            ),
            "dive_user_size": w.dive.user_size,
            "inefficient_files": [
                {"path": p.path, "count": p.count, "size": p.size}
                for p in w.dive.inefficient[: w.top_n]
            ],
            "reclaimable_bytes": w.reclaimable_bytes,
            "reclaimable_percent": w.reclaimable_percent,
            "reclaimable_paths": [
                {
                    "path": "/" + p.path,
                    "reclaimable_bytes": p.reclaimable_bytes,
                    "versions": p.versions,
                    "layers": list(p.layers),
                    "deleted": p.deleted,
                }
                for p in w.top
            ],
            "pitfalls": [f.to_json() for f in self.pitfalls],
        }


def analyze(
    config: dict[str, Any],
    layers: Iterable[LayerInput],
    dockerfile: Dockerfile | None = None,
    *,
    name: str = "",
    manifest_digest: str = "",
    config_digest: str = "",
    top_n: int = 20,
    context_dir: str | None = None,
    pitfalls: bool = True,
) -> Analysis:
    tree = ImageTree()
    for li in layers:
        f = None
        try:
            f = li.open()
            tree.add_layer(f, li.digest, li.size)
        except (LayerFormatError, SourceError, StoreError) as e:
            # StoreError: a blob missing, of another size, or not of its digest
            raise LayerFormatError(
                f"{name or 'image'}: layer {len(tree.layers)} ({li.digest[:19]}): {e}"
            ) from None
        finally:
            close = getattr(f, "close", None)
            if close is not None:
                close()
    n = len(tree.layers)
    rows = history_rows(config, n)
    matched = match_dockerfile(rows, dockerfile) if dockerfile is not None else {}
    base_layers, first = base_boundary(rows, matched)
    has_marks = any(r.line is not None for r in rows)
    line_source = "history" if has_marks else "dockerfile" if matched else "none"

    if dockerfile is not None:
        steps = list(dockerfile.steps)
        final = dockerfile.final_stage
    else:
        steps = steps_from_history(rows, first)
        final = 0
    by_line = {s.line: s for s in steps}
    layer_step: dict[int, Step] = {}
    layer_row: dict[int, HistoryRow] = {}
    for r in rows:
        if r.layer is None:
            continue
        layer_row[r.layer] = r
        if r.line is not None:
            st = dockerfile.at_line(r.line) if dockerfile is not None else by_line.get(r.line)
        elif r.index in matched:
            st = matched[r.index]
        else:
            st = by_line.get(-(r.index + 1)) if dockerfile is None else None
        if st is not None and r.layer >= base_layers:
            layer_step[r.layer] = st

    infos = [
        LayerInfo(i, tree.layers[i].files_size, layer_step.get(i), i < base_layers)
        for i in range(n)
    ]
    waste = compute_waste(tree, base_layers, top_n)
    found: list[Finding] = []
    if pitfalls:
        ctx = Context(
            tree, infos, steps, final, config, dockerfile is not None, base_layers, context_dir
        )
        found = run_checks(ctx)
    reports = []
    for ls in tree.layers:
        row = layer_row.get(ls.index)
        step = layer_step.get(ls.index)
        line = step.line if step is not None and step.line > 0 else None
        reports.append(
            LayerReport(
                ls.index,
                ls.digest,
                ls.size,
                ls.uncompressed_size,
                ls.files_size,
                row.created_by if row else "",
                line,
                step.end_line if step is not None and line else None,
                ls.index < base_layers,
                ls.added,
                ls.modified,
                ls.deleted,
                ls.added_bytes,
                ls.modified_bytes,
                ls.deleted_bytes,
            )
        )
    return Analysis(
        name,
        manifest_digest,
        config_digest,
        reports,
        rows,
        waste,
        found,
        line_source,
        dockerfile.path if dockerfile is not None else None,
    )


def analyze_source(src: ImageSource, dockerfile: Dockerfile | None = None, **kw: Any) -> Analysis:
    inputs = [
        LayerInput(str(b.descriptor.digest), b.descriptor.size, b.compressed)
        for b in src.image.layers()
    ]
    return analyze(
        src.config(),
        inputs,
        dockerfile,
        name=src.name,
        manifest_digest=src.manifest_digest,
        config_digest=src.config_digest,
        **kw,
    )
