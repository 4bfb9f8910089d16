"""One build end to end: the plan, the stages on threads (each waits only for the
stages it needs, so independent stages run in parallel), the final image written and
tagged only on success, and the outputs (`--output`, `--push`)."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any

import store
from builder import config_ops, engine, sandbox
from builder.cache import BuildCache
from builder.context import SourceTree
from builder.engine import planning, stages
from builder.engine.options import BuildOptions
from builder.engine.state import BuildAborted, BuildContext, StageState
from builder.history import rfc3339, stamp_build
from builder.inspect.cache_report import cache_report_json, format_cache_report
from builder.progress import Progress, make_progress
from store.background import Background
from store.errors import StoreError
from store.image import write_image
from store.layout import open_store
from store.oci.digest import Descriptor, Digest
from store.oci.platform import host_platform

if TYPE_CHECKING:
    from store.layout import Store


@dataclass(frozen=True)
class BuildResult:
    """What a build made: the image id, its manifest and tags, and the config."""

    image_id: Digest  # the config digest, as docker prints it
    manifest: Descriptor
    tags: tuple[str, ...]
    config: Any
    file_hashes: dict[str, int] | None = None  # hits/misses/opens/bytes_read of sources


def build(opts: BuildOptions, progress: Progress | None = None) -> BuildResult:
    progress = progress or make_progress(opts.progress)
    store = open_store(opts.store_root)
    platform = opts.platform or str(host_platform())
    epoch = opts.source_date_epoch
    ctx = BuildContext(
        opts=opts,
        store=store,
        cache=BuildCache(store),
        progress=progress,
        platform=platform,
        position_prefix=f"{opts.context}:{opts.dockerfile_name}",
        file=opts.dockerfile_name,
        epoch_created=rfc3339(epoch) if epoch is not None else None,
    )
    image_id = ""
    try:
        with store.lease(labels=f"build {opts.context}"):
            if opts.cache_from or opts.cache_to:  # else not even imported (startup)
                engine.remote_cache.check_specs(opts)
                for ref in opts.cache_from:
                    engine.remote_cache.import_from(ctx, ref)
            ctx.plan = planning.make_plan(ctx)
            for w in ctx.plan.warnings:
                progress.message(w)
            ctx.context_tree = SourceTree.context(opts.context, _dockerfile_path(opts))
            final = _run_stages(ctx)
            result = replace(_finish(ctx, final), file_hashes=ctx.hash_stats())
            image_id = str(result.image_id)
            _cache_report(ctx)
            if opts.outputs or opts.push:
                engine.outputs.emit(ctx, result)
            for ref in opts.cache_to:
                engine.remote_cache.export_to(ctx, ref, ctx.used_keys)
        return result
    finally:
        ctx.drop_fetched()
        progress.finish(image_id)


def _dockerfile_path(opts: BuildOptions) -> Any:
    if opts.dockerfile_path is not None:
        return opts.dockerfile_path
    p = opts.context / opts.dockerfile_name
    return p if p.exists() else None


def _wait(
    runs: Sequence[Background],
    finished: threading.Event,
    *,
    first_error: bool,
    timeout: float | None = None,
) -> list[Background]:
    """Wait until every run is done (or, with `first_error`, one failed); returns
    the runs not done yet. Each stage sets `finished` as it ends."""
    deadline = None if timeout is None else time.monotonic() + timeout
    while True:
        finished.clear()
        pending = [r for r in runs if not r.done()]
        if not pending or (first_error and any(r.done() and r.exception() for r in runs)):
            return pending
        left = None if deadline is None else deadline - time.monotonic()
        if left is not None and left <= 0:
            return pending
        finished.wait(left)


def _run_stages(ctx: BuildContext) -> StageState:
    """Each stage on its own thread (a Background, which ctx.futures holds for
    wait_stage); all are registered before any starts."""
    plan = ctx.plan
    finished = threading.Event()
    runs = []
    for st in plan.stages:
        run = Background(_stage, ctx, st, name=f"stage-{st.index}", on_done=finished.set)
        ctx.futures[st.index] = run
        runs.append(run)
    for run in runs:
        run.start()
    try:
        _wait(runs, finished, first_error=True)
    except KeyboardInterrupt:
        _interrupt(ctx, runs, finished)
        raise
    first = next((r.exception() for r in runs if r.done() and r.exception() is not None), None)
    if first is not None:
        ctx.abort.set()
        _wait(runs, finished, first_error=False)
        errors = [e for e in (r.exception() for r in runs) if e]
        real = [e for e in errors if not isinstance(e, BuildAborted)]
        raise (real or errors)[0]
    return ctx.futures[plan.target].result()


def _interrupt(
    ctx: BuildContext, runs: Sequence[Background], finished: threading.Event, grace: float = 5.0
) -> None:
    """Ctrl-C: the stage threads never see it, so stop them, kill their sandboxes, and
    give them a moment to unmount and release what they hold. Nothing gets tagged."""
    ctx.abort.set()
    deadline = time.monotonic() + grace
    while time.monotonic() < deadline:
        sandbox.cancel_all()  # each round: a stage may have started a step since
        if not _wait(runs, finished, first_error=False, timeout=0.1):
            return


def _stage(ctx: BuildContext, stage: Any) -> StageState:
    try:
        return stages.run(ctx, stage)
    except BaseException:
        ctx.abort.set()
        raise


def _finish(ctx: BuildContext, final: StageState) -> BuildResult:
    img = config_ops.add_labels(final.config, dict(ctx.opts.labels))
    hist = list(img.history)
    fallback = ctx.epoch_created or rfc3339(time.time())
    last = None
    for i, h in enumerate(hist):
        if h.created is None:
            hist[i] = replace(h, created=last or fallback)
        last = hist[i].created
    created = ctx.epoch_created or (last or fallback)
    build_id = final.key.removeprefix("sha256:")[:12]  # stable for the same inputs
    hist = [stamp_build(h, build_id) for h in hist]
    img = replace(img, history=tuple(hist), created=created)
    layers = [lr.desc for lr in final.layers]
    desc = None
    if ctx.opts.cache_from or ctx.opts.cache_to:
        img = engine.remote_cache.with_inline(ctx, img, final.key)
        # layers hit in a remote cache: fetched now, or (push only) mounted, never fetched
        desc = engine.remote_cache.finish_image(ctx, img, final.layers)
    if desc is None:
        desc = _already_tagged(ctx.store, img, layers, ctx.opts.tags, ctx.opts.annotations)
    if desc is None:
        desc = write_image(
            ctx.store, img, layers, tags=list(ctx.opts.tags), annotations=ctx.opts.annotations
        )
        if not ctx.opts.tags:
            ctx.store.refs.add_root(desc)
    if ctx.opts.force_compression:  # the exporter's force-compression=true
        forced = store.recompress_image(ctx.store, desc, ctx.opts.compression)
        if forced != desc:
            desc = forced
            if ctx.opts.tags:
                ctx.store.refs.set_many([(t, desc) for t in ctx.opts.tags])
            else:
                ctx.store.refs.add_root(desc)
    cfg_digest = Digest.of_bytes(img.to_bytes())
    for t in ctx.opts.tags:
        ctx.progress.message(f"naming to {t} done")
    return BuildResult(cfg_digest, desc, tuple(ctx.opts.tags), img)


def _already_tagged(
    store: Store,
    img: Any,
    layers: list[Descriptor],
    tags: Sequence[str],
    annotations: Mapping[str, str],
) -> Descriptor | None:
    """The descriptor every tag already names when it is this very image (a no-op
    rebuild): then nothing is rewritten, which saves three fsyncs."""
    if not tags:
        return None
    try:
        found = {store.refs.get(t) for t in tags}
        if len(found) != 1:
            return None
        desc = found.pop()
        m = json.loads(store.blobs.path(desc.digest).read_bytes())
    except (StoreError, OSError, ValueError):
        return None
    cfg = Digest.of_bytes(img.to_bytes())
    if (
        m.get("config", {}).get("digest") != str(cfg)
        or [x.get("digest") for x in m.get("layers", [])] != [str(d.digest) for d in layers]
        or not store.blobs.exists(cfg)
        or (m.get("annotations") or {}) != dict(annotations)
    ):
        return None
    return Descriptor(desc.media_type, desc.digest, desc.size, platform=desc.platform)


def _cache_report(ctx: BuildContext) -> None:
    if not ctx.outcomes:
        return
    ctx.progress.cache_report(format_cache_report(ctx.outcomes), cache_report_json(ctx.outcomes))
