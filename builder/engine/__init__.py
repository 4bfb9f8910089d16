"""The build engine: `build(BuildOptions) -> BuildResult` runs a Dockerfile end to end.

Modules: options (what to build), planning (the front end's plan, the plan cache,
ONBUILD triggers), model (the engine's plan: stages of the front end's planned steps),
state (stage state, build context), stages (per-step loop, cache, metadata), dispatch
(instruction type -> what runs it), run_step (RUN + mounts), copy_step (COPY/ADD),
workdir_step (WORKDIR), sources (bases, --from roots), layers (snapshots), outputs
(archives, push), failure (step errors), runner.
"""

from __future__ import annotations

from typing import Any


def build(opts: Any, progress: Any = None) -> Any:
    from builder.engine.runner import build as _build

    return _build(opts, progress)
