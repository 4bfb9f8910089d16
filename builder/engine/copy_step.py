"""COPY and ADD: the cache-key sources (content hashes through the file-hash cache),
then on a miss the copy into an overlay of the stage (or, for `--link`, into an empty
snapshot) with builder.copy / builder.add, the commit into a layer, and the history
`created_by`. A `builder.engine.dispatch.LayerFamily`."""

from __future__ import annotations

import contextlib
import hashlib
import os
import shutil
import tempfile
import time
from dataclasses import replace
from pathlib import Path
from typing import Any

import builder
from builder import config_ops, history
from builder.cache import CacheResult
from builder.chown import resolve_chown
from builder.context import SourceTree
from builder.copy import CopyOptions, copy_into, parse_chmod, source_hash
from builder.engine import layers
from builder.engine.failure import StepError
from builder.engine.model import Stage, Step
from builder.engine.sources import source_key, stage_root
from builder.engine.state import BuildContext, StageState
from builder.errors import BuildError, Span
from builder.frontend.instructions.model import Add, Copy
from builder.history import rfc3339


def _copy(step: Step) -> Copy:
    ins = step.instruction
    assert isinstance(ins, Copy), ins  # builder.engine.dispatch sends only COPY/ADD here
    return ins


def source_ref(step: Step) -> int | str | None:
    """Where a COPY copies from: an earlier stage's index, an image ref, or None (the
    context)."""
    p = step.planned
    return p.from_stage if p.from_stage is not None else (p.from_image or None)


def _copy_opts(step: Step, state: StageState, *, owner: Any = None) -> Any:

    ins = _copy(step)
    return CopyOptions(
        owner=owner,
        chmod=parse_chmod(ins.chmod, ins.keyword) if ins.chmod else None,
        parents=ins.parents,
        excludes=tuple(ins.excludes),
        preserve_owner=source_ref(step) is not None,
        workdir=state.config.config.working_dir or "/",
        instruction=ins.keyword,
    )


@contextlib.contextmanager
def _source_tree(ctx: BuildContext, step: Step) -> Any:

    src = source_ref(step)
    docs = _copy(step).heredocs
    if docs:
        with tempfile.TemporaryDirectory(prefix="pybuild-heredoc-") as d:
            for doc in docs:
                p = Path(d) / doc.name.lstrip("/")
                p.parent.mkdir(parents=True, exist_ok=True)
                p.write_text(doc.data)
                os.chmod(p, 0o644)
            yield SourceTree(d, is_context=False)
        return
    if src is None:
        yield ctx.context_tree
        return
    with stage_root(ctx, src) as root:
        yield SourceTree(root, is_context=False)


def _sources(step: Step) -> list[str]:
    ins = _copy(step)
    if ins.heredocs:
        return [d.name.lstrip("/") for d in ins.heredocs]
    return list(ins.sources)


def _checksum(ins: Copy) -> str | None:
    return (ins.checksum or None) if isinstance(ins, Add) else None


def key_inputs(
    ctx: BuildContext, step: Step, state: StageState
) -> tuple[dict[str, str], dict[str, str]]:
    """What the build adds to a COPY/ADD's cache record: the per-file source hashes
    (context or heredocs), or the key of the `--from` stage or image."""
    ins = _copy(step)
    src = source_ref(step)
    extra: dict[str, str] = {}
    if src is not None:
        extra[f"from {src}"] = source_key(ctx, src)
        return {}, extra
    if ins.heredocs:
        return {d.name: hashlib.sha256(d.data.encode()).hexdigest() for d in ins.heredocs}, extra
    opts = _copy_opts(step, state)
    try:
        if isinstance(ins, Add):
            staging = tempfile.mkdtemp(prefix="pybuild-add-")
            try:
                plan = builder.add.prepare_add(
                    ctx.context_tree,
                    _sources(step),
                    Path(staging),
                    opts,
                    checksum=_checksum(ins),
                )
                sh = plan.source_hash(ctx.hashes())
            except BaseException:
                shutil.rmtree(staging, ignore_errors=True)
                raise
            if any(it.remote for it in plan.items):  # kept for execute(): fetched once
                with ctx.lock:
                    ctx.fetched[id(step)] = (plan, staging)
            else:
                shutil.rmtree(staging, ignore_errors=True)
        else:
            sh = source_hash(ctx.context_tree, _sources(step), opts, ctx.hashes())
    except BuildError as e:
        raise _located(ctx, step, e) from None
    return dict(sh.manifest), extra


def _located(ctx: BuildContext, step: Step, e: BuildError) -> BuildError:
    loc = getattr(e, "located", None)
    if loc is not None:
        return loc(ctx.file, Span(step.line))
    return e


def execute(
    ctx: BuildContext,
    stage: Stage,
    step: Step,
    state: StageState,
    vid: int,
    position: str,
    key: str,
) -> CacheResult:

    ins = _copy(step)
    link = ins.link
    try:
        with contextlib.ExitStack() as stack:
            tree = stack.enter_context(_source_tree(ctx, step))
            active = stack.enter_context(layers.writable(ctx.store, None if link else state, key))
            root = str(Path(active.merged))
            owner = resolve_chown(root, ins.chown, ins.keyword) if ins.chown else None
            opts = _copy_opts(step, state, owner=owner)
            dest = ins.dest or "."
            if isinstance(ins, Add) and not ins.heredocs:
                plan = _add_plan(ctx, step, tree, opts, stack)
                plan.apply(dest, root)
            else:
                copy_into(tree, _sources(step), dest, root, replace(opts))
            layers.settle_dir_times(active, _dest_rel(root, opts.workdir, dest))
            created = ctx.epoch_created or rfc3339(time.time())
            if layers.upper_is_empty(Path(active.upper), ()):
                return CacheResult("empty", created=created)
            res = layers.commit(
                ctx.store,
                active,
                compression=ctx.opts.compression,
                epoch=ctx.opts.source_date_epoch,
                exclude=(),
            )
            return CacheResult("layer", res.descriptor, res.diff_id, str(res.chain_id), created)
    except StepError:
        raise
    except BuildError as e:
        raise StepError(
            file=ctx.file,
            line=step.line,
            stage=stage.name,
            position=position,
            text=step.text,
            message=str(_plain(e)),
        ) from None


def _add_plan(
    ctx: BuildContext, step: Step, tree: Any, opts: Any, stack: contextlib.ExitStack
) -> Any:
    """The ADD's sources: URLs as they were fetched for the cache key (never fetched a
    second time, so the layer holds the bytes the key was made from), else fetched now."""

    with ctx.lock:
        kept = ctx.fetched.pop(id(step), None)
    if kept is not None:
        plan, staging = kept
        stack.callback(shutil.rmtree, staging, True)
        return builder.add.AddPlan(plan.items, replace(opts, instruction="ADD"))
    staging = stack.enter_context(tempfile.TemporaryDirectory(prefix="pybuild-add-"))
    return builder.add.prepare_add(
        tree, _sources(step), Path(staging), opts, checksum=_checksum(_copy(step))
    )


def _dest_rel(root: str, workdir: str, dest: str) -> str:

    full = dest if dest.startswith("/") else f"{workdir.rstrip('/')}/{dest}"
    return SourceTree(root, is_context=False).resolve(full)


def _plain(e: BuildError) -> str:
    msg = getattr(e, "message", None)
    instr = getattr(e, "instruction", None)
    if msg and instr:
        return f"{instr} failed: {msg}"
    return str(e)


def committed(step: Step, state: StageState) -> config_ops.Applied:
    """The config (unchanged) and the history `created_by`, as BuildKit's dispatchCopy."""
    ins = _copy(step)
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
