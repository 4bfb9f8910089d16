"""COPY and ADD: the cache-key sources (content hashes through the file-hash cache) and
the history `created_by`. A `builder.engine.dispatch.LayerFamily`: a miss runs in
`builder.engine.copy_exec`, which a build whose copies are all cached never loads."""

from __future__ import annotations

import hashlib
from typing import Any

import builder
from builder import config_ops, engine, history
from builder.cache import CacheResult
from builder.copy import CopyOptions, parse_chmod, source_hash
from builder.engine.sources import source_key
from builder.engine.state import BuildContext, StageState
from builder.errors import BuildError, Span
from builder.frontend.instructions.model import Add, Copy
from builder.frontend.planned import PlannedStage, PlannedStep


def copy_of(step: PlannedStep) -> Copy:
    ins = step.instruction
    assert isinstance(ins, Copy), ins  # builder.engine.dispatch sends only COPY/ADD here
    return ins


def source_ref(step: PlannedStep) -> int | str | None:
    """Where a COPY copies from: an earlier stage's index, an image ref, or None (the
    context)."""
    return step.from_stage if step.from_stage is not None else (step.from_image or None)


def copy_options(step: PlannedStep, state: StageState, *, owner: Any = None) -> Any:
    ins = copy_of(step)
    return CopyOptions(
        owner=owner,
        chmod=parse_chmod(ins.chmod, ins.keyword) if ins.chmod else None,
        parents=ins.parents,
        excludes=tuple(ins.excludes),
        preserve_owner=source_ref(step) is not None,
        workdir=state.config.config.working_dir or "/",
        instruction=ins.keyword,
    )


def sources_of(step: PlannedStep) -> list[str]:
    ins = copy_of(step)
    if ins.heredocs:
        return [d.name.lstrip("/") for d in ins.heredocs]
    return list(ins.sources)


def checksum_of(ins: Copy) -> str | None:
    return (ins.checksum or None) if isinstance(ins, Add) else None


def key_inputs(
    ctx: BuildContext, step: PlannedStep, state: StageState
) -> tuple[dict[str, str], dict[str, str]]:
    """What the build adds to a COPY/ADD's cache record: the per-file source hashes
    (context or heredocs), or the key of the `--from` stage or image."""
    ins = copy_of(step)
    src = source_ref(step)
    extra: dict[str, str] = {}
    if src is not None:
        extra[f"from {src}"] = source_key(ctx, src)
        return {}, extra
    if ins.heredocs:
        return {d.name: hashlib.sha256(d.data.encode()).hexdigest() for d in ins.heredocs}, extra
    opts = copy_options(step, state)
    try:
        if isinstance(ins, Add):
            sh, kept = builder.add.hash_sources(
                ctx.context_tree, sources_of(step), opts, ctx.hashes(), checksum=checksum_of(ins)
            )
            if kept is not None:  # URLs fetched for the key: execute() adds those bytes
                with ctx.lock:
                    ctx.fetched[id(step)] = kept
        else:
            sh = source_hash(ctx.context_tree, sources_of(step), opts, ctx.hashes())
    except BuildError as e:
        raise _located(ctx, step, e) from None
    return dict(sh.manifest), extra


def _located(ctx: BuildContext, step: PlannedStep, e: BuildError) -> BuildError:
    loc = getattr(e, "located", None)
    if loc is not None:
        return loc(ctx.file, Span(step.line))
    return e


def committed(step: PlannedStep, state: StageState) -> config_ops.Applied:
    """The config (unchanged) and the history `created_by`, as BuildKit's dispatchCopy."""
    ins = copy_of(step)
    shown = [f"<<{d.name}" for d in ins.heredocs] if ins.heredocs else list(ins.sources)
    created_by = history.copy_created_by(
        isinstance(ins, Add),
        shown,
        ins.dest or ".",
        chown=ins.chown,
        chmod=ins.chmod,
        parents=ins.parents,
    )
    return config_ops.Applied(state.config, created_by)


def execute(
    ctx: BuildContext,
    stage: PlannedStage,
    step: PlannedStep,
    state: StageState,
    vid: int,
    position: str,
    key: str,
) -> CacheResult:
    """A miss: the copy into an overlay of the stage (`builder.engine.copy_exec`)."""
    return engine.copy_exec.execute(ctx, stage, step, state, vid, position, key)
