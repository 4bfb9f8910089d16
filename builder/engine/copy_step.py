"""COPY and ADD: the cache-key sources (content hashes through the file-hash cache),
then on a miss the copy into an overlay of the stage (or, for `--link`, into an empty
snapshot) with builder.copy / builder.add, and the commit into a layer. WORKDIR's
directory creation lives here too: it is a file operation like COPY in BuildKit."""

from __future__ import annotations

import contextlib
import hashlib
import os
import time
from dataclasses import replace
from pathlib import Path
from typing import Any

from builder.cache import CacheResult
from builder.engine import layers
from builder.engine.failure import StepError
from builder.engine.model import Stage, Step
from builder.engine.sources import source_key, stage_root
from builder.engine.state import BuildContext, StageState
from builder.errors import BuildError
from builder.history import rfc3339


def _copy_opts(step: Step, state: StageState, *, owner: Any = None) -> Any:
    from builder.copy import CopyOptions, parse_chmod

    chmod = step.get("chmod") or ""
    return CopyOptions(
        owner=owner,
        chmod=parse_chmod(chmod, step.kind) if chmod else None,
        parents=bool(step.get("parents")),
        excludes=tuple(step.get("excludes") or ()),
        preserve_owner=step.get("from") not in (None, ""),
        workdir=state.config.config.working_dir or "/",
        instruction=step.kind,
    )


@contextlib.contextmanager
def _source_tree(ctx: BuildContext, step: Step) -> Any:
    from builder.context import SourceTree

    src = step.get("from")
    docs = step.get("heredocs") or ()
    if docs:
        import tempfile

        with tempfile.TemporaryDirectory(prefix="pybuild-heredoc-") as d:
            for doc in docs:
                p = Path(d) / doc.name.lstrip("/")
                p.parent.mkdir(parents=True, exist_ok=True)
                p.write_text(doc.data)
                os.chmod(p, 0o644)
            yield SourceTree(d, is_context=False)
        return
    if src in (None, ""):
        yield ctx.context_tree
        return
    with stage_root(ctx, src) as root:
        yield SourceTree(root, is_context=False)


def _sources(step: Step) -> list[str]:
    docs = step.get("heredocs") or ()
    if docs:
        return [d.name.lstrip("/") for d in docs]
    return list(step.get("sources") or [])


def cache_sources(
    ctx: BuildContext, step: Step, state: StageState
) -> tuple[dict[str, str], dict[str, str]]:
    """(per-file source hashes, extra key inputs) of a COPY/ADD."""
    src = step.get("from")
    extra: dict[str, str] = {}
    if src not in (None, ""):
        extra[f"from {src}"] = source_key(ctx, src)
        return {}, extra
    if step.get("heredocs"):
        return {
            d.name: hashlib.sha256(d.data.encode()).hexdigest() for d in step.get("heredocs")
        }, extra
    opts = _copy_opts(step, state)
    try:
        if step.kind == "ADD":
            import shutil
            import tempfile

            from builder.add import prepare_add

            staging = tempfile.mkdtemp(prefix="pybuild-add-")
            try:
                plan = prepare_add(
                    ctx.context_tree,
                    _sources(step),
                    Path(staging),
                    opts,
                    checksum=step.get("checksum") or None,
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
            from builder.copy import source_hash

            sh = source_hash(ctx.context_tree, _sources(step), opts, ctx.hashes())
    except BuildError as e:
        raise _located(ctx, step, e) from None
    return dict(sh.manifest), extra


def _located(ctx: BuildContext, step: Step, e: BuildError) -> BuildError:
    loc = getattr(e, "located", None)
    if loc is not None:
        from builder.errors import Span

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
    from builder.chown import resolve_chown

    link = bool(step.get("link"))
    try:
        with contextlib.ExitStack() as stack:
            tree = stack.enter_context(_source_tree(ctx, step))
            active = stack.enter_context(layers.writable(ctx.store, None if link else state, key))
            root = str(Path(active.merged))
            chown = step.get("chown") or ""
            owner = resolve_chown(root, chown, step.kind) if chown else None
            opts = _copy_opts(step, state, owner=owner)
            dest = step.get("dest") or "."
            if step.kind == "ADD" and not step.get("heredocs"):
                plan = _add_plan(ctx, step, tree, opts, stack)
                plan.apply(dest, root)
            else:
                from builder.copy import copy_into

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
    import shutil
    import tempfile

    from builder.add import AddPlan, prepare_add

    with ctx.lock:
        kept = ctx.fetched.pop(id(step), None)
    if kept is not None:
        plan, staging = kept
        stack.callback(shutil.rmtree, staging, True)
        return AddPlan(plan.items, replace(opts, instruction="ADD"))
    staging = stack.enter_context(tempfile.TemporaryDirectory(prefix="pybuild-add-"))
    return prepare_add(
        tree, _sources(step), Path(staging), opts, checksum=step.get("checksum") or None
    )


def _dest_rel(root: str, workdir: str, dest: str) -> str:
    from builder.context import SourceTree

    full = dest if dest.startswith("/") else f"{workdir.rstrip('/')}/{dest}"
    return SourceTree(root, is_context=False).resolve(full)


def _plain(e: BuildError) -> str:
    msg = getattr(e, "message", None)
    instr = getattr(e, "instruction", None)
    if msg and instr:
        return f"{instr} failed: {msg}"
    return str(e)


def workdir(
    ctx: BuildContext,
    stage: Stage,
    step: Step,
    state: StageState,
    vid: int,
    position: str,
    key: str,
    path: str,
) -> CacheResult:
    """mkdir -p WORKDIR (0755, owned by USER when set), as BuildKit's llb.Mkdir."""
    from builder.chown import resolve_chown
    from builder.context import SourceTree

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
