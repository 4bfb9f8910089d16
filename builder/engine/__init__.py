"""The build engine: `build(BuildOptions) -> BuildResult` runs a Dockerfile end to end.

Modules: options (what to build), planning (the front end's plan, the plan cache,
ONBUILD triggers), model (the engine's plan: stages of the front end's planned steps),
state (stage state, build context), stages (per-step loop, cache, metadata), dispatch
(instruction type -> what runs it), run_step (RUN + mounts), copy_step (COPY/ADD),
workdir_step (WORKDIR), sources (bases, --from roots), layers (snapshots), outputs
(archives, push), remote_cache (--cache-from/--cache-to), failure (step errors),
runner.

The package is a seam (PEP 562): `build` and the parts a build reaches only when asked
for them (`outputs`, `remote_cache`) load on first use, so `import builder.engine.options`
and a no-op rebuild stay cheap.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from builder.engine import copy_exec as copy_exec
    from builder.engine import outputs as outputs
    from builder.engine import remote_cache as remote_cache
    from builder.engine import run_exec as run_exec
    from builder.engine.runner import build as build

_LAZY_MODULES = frozenset({"copy_exec", "outputs", "remote_cache", "run_exec"})


def __getattr__(name: str) -> Any:
    if name == "build":
        return importlib.import_module("builder.engine.runner").build
    if name in _LAZY_MODULES:
        return importlib.import_module(f"{__name__}.{name}")
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
