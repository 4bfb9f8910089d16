"""The build engine: `build(BuildOptions) -> BuildResult` runs a Dockerfile end to end.

Modules: options (what to build), adapter (front-end plan -> engine model), model,
state (stage state, build context), stages (per-step loop, cache, metadata),
run_step (RUN + mounts), copy_step (COPY/ADD/WORKDIR), sources (bases, --from roots),
layers (snapshots), outputs (archives, push), failure (step errors), runner.
"""

from __future__ import annotations

from typing import Any


def build(opts: Any, progress: Any = None) -> Any:
    from builder.engine.runner import build as _build

    return _build(opts, progress)
