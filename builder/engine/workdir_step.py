"""WORKDIR: the config's new working directory and, when it is not `/`, its creation
(mkdir -p, 0755, owned by USER when set: BuildKit's llb.Mkdir, a file operation like
COPY) committed into a layer; what the build adds to its cache record (the user and
workdir of the config) and its history `created_by`. A
`builder.engine.dispatch.LayerFamily`."""

from __future__ import annotations

import os
from pathlib import Path

from builder import config_ops
from builder.cache import CacheResult
from builder.cache_inputs import runs_as
from builder.chown import resolve_chown
from builder.context import SourceTree
from builder.engine import layers
from builder.engine.state import BuildContext, StageState
from builder.errors import BuildError
from builder.frontend.instructions.model import Workdir
from builder.frontend.planned import PlannedStage, PlannedStep


def committed(step: PlannedStep, state: StageState) -> config_ops.Applied:
    """The config with the new working directory, and `WORKDIR /abs # ...`'s text."""
    ins = step.instruction
    assert isinstance(ins, Workdir), ins  # builder.engine.dispatch sends only WORKDIR here
    return config_ops.workdir(state.config, ins.value)


def key_inputs(
    ctx: BuildContext, step: PlannedStep, state: StageState
) -> tuple[dict[str, str], dict[str, str]]:
    """No sources; the user and working directory of the config before it."""
    c = state.config.config
    return {}, runs_as(c.user, c.working_dir)


def execute(
    ctx: BuildContext,
    stage: PlannedStage,
    step: PlannedStep,
    state: StageState,
    vid: int,
    position: str,
    key: str,
) -> CacheResult:
    wd = committed(step, state).image.config.working_dir or "/"
    if wd == "/":
        return CacheResult("empty", created=ctx.epoch_created)
    return _mkdir(ctx, state, key, wd)


def _mkdir(ctx: BuildContext, state: StageState, key: str, path: str) -> CacheResult:
    """mkdir -p WORKDIR (0755, owned by USER when set), as BuildKit's llb.Mkdir."""

    with layers.writable(ctx.store, state, key) as active:
        root = str(Path(active.merged))
        user = state.config.config.user or ""
        try:
            owner = resolve_chown(root, user, "WORKDIR") if user else None
        except BuildError:
            owner = None
        rel = SourceTree(root, is_context=False).resolve(path, instruction="WORKDIR")
        cur = root
        for part in [p for p in rel.split("/") if p]:
            cur = os.path.join(cur, part)
            if not os.path.lexists(cur):
                os.mkdir(cur, 0o755)
                os.chmod(cur, 0o755)
                if owner is not None:
                    os.chown(cur, owner.uid, owner.gid)
        layers.settle_dir_times(active, rel)
        return layers.step_result(ctx, active)
