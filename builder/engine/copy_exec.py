"""COPY and ADD on a cache miss: the copy into an overlay of the stage (or, for
`--link`, into an empty snapshot) with builder.copy / builder.add, and the commit into a
layer. `builder.engine.copy_step` owns the cache record and the history entry."""

from __future__ import annotations

import contextlib
import os
import tempfile
from dataclasses import replace
from pathlib import Path
from typing import Any

import builder
from builder.cache import CacheResult
from builder.chown import resolve_chown
from builder.context import SourceTree
from builder.copy import copy_into
from builder.engine import layers
from builder.engine.copy_step import checksum_of, copy_of, copy_options, source_ref, sources_of
from builder.engine.failure import StepError
from builder.engine.sources import stage_root
from builder.engine.state import BuildContext, StageState
from builder.errors import BuildError
from builder.frontend.instructions.model import Add
from builder.frontend.planned import PlannedStage, PlannedStep


@contextlib.contextmanager
def _source_tree(ctx: BuildContext, step: PlannedStep) -> Any:
    src = source_ref(step)
    docs = copy_of(step).heredocs
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


def execute(
    ctx: BuildContext,
    stage: PlannedStage,
    step: PlannedStep,
    state: StageState,
    vid: int,
    position: str,
    key: str,
) -> CacheResult:
    ins = copy_of(step)
    link = ins.link
    try:
        with contextlib.ExitStack() as stack:
            tree = stack.enter_context(_source_tree(ctx, step))
            active = stack.enter_context(layers.writable(ctx.store, None if link else state, key))
            root = str(Path(active.merged))
            owner = resolve_chown(root, ins.chown, ins.keyword) if ins.chown else None
            opts = copy_options(step, state, owner=owner)
            dest = ins.dest or "."
            if isinstance(ins, Add) and not ins.heredocs:
                plan = _add_plan(ctx, step, tree, opts, stack)
                plan.apply(dest, root)
            else:
                copy_into(tree, sources_of(step), dest, root, replace(opts))
            layers.settle_dir_times(active, _dest_rel(root, opts.workdir, dest))
            return layers.step_result(ctx, active)
    except StepError:
        raise
    except BuildError as e:
        raise StepError.of(ctx, stage, step, position, _plain(e)) from None


def _add_plan(
    ctx: BuildContext, step: PlannedStep, tree: Any, opts: Any, stack: contextlib.ExitStack
) -> Any:
    """The ADD's sources: URLs as they were fetched for the cache key (never fetched a
    second time, so the layer holds the bytes the key was made from), else fetched now."""

    with ctx.lock:
        kept = ctx.fetched.pop(id(step), None)
    if kept is not None:
        plan, staging = kept
        stack.callback(builder.add.discard, staging)
        return builder.add.AddPlan(plan.items, replace(opts, instruction="ADD"))
    staging = stack.enter_context(tempfile.TemporaryDirectory(prefix="pybuild-add-"))
    return builder.add.prepare_add(
        tree, sources_of(step), Path(staging), opts, checksum=checksum_of(copy_of(step))
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
