"""One stage, step by step: the cache lookup (the key from the parent key and the step's
record, `builder.cache_inputs`), the progress events, the instruction's family for a
miss (`builder.engine.dispatch`), metadata instructions applied to the config, and
history entries in BuildKit's form with the Dockerfile line."""

from __future__ import annotations

import time
from dataclasses import replace

from builder import config_ops as ops
from builder import engine
from builder.cache import CacheResult, compute_key
from builder.cache_inputs import base_record, step_record
from builder.engine import dispatch, nospace
from builder.engine.failure import StepError
from builder.engine.planning import onbuild_steps
from builder.engine.sources import image_state, resolve_image, scratch_state
from builder.engine.state import BuildContext, StageState
from builder.errors import BuildError
from builder.frontend.planned import PlannedStage, PlannedStep
from builder.inspect.cache_report import StepOutcome


def shown_total(stage: PlannedStage) -> int:
    """BuildKit numbers FROM and the steps that make a filesystem vertex."""
    return 1 + sum(1 for s in stage.steps if dispatch.layer_family(s.instruction) is not None)


def _pos(n: int, total: int) -> str:
    return f"{n}/{total}"


def start(ctx: BuildContext, stage: PlannedStage) -> StageState:
    """FROM: scratch, an earlier stage, or an image (store or pull)."""
    total = shown_total(stage)
    base = stage.base
    if isinstance(base, int):
        st = ctx.wait_stage(base)
        trig = tuple(st.config.config.on_build or ())
        if trig:  # the stage's own ONBUILD run here, as BuildKit does (not carried on)
            st = replace(
                st,
                triggers=trig,
                base_config=st.config.to_json(),
                config=ops.without_onbuild(st.config),
            )
        return replace(st, step_no=1, reran=st.reran, cmd_set=False)
    if base == "scratch":
        st = scratch_state(stage.platform)
        return replace(st, key=compute_key("", base_record("scratch", None, stage.platform)))
    vid = ctx.progress.new_id()
    label = stage.from_text or f"FROM {base}"
    ctx.progress.step_started(vid, stage.name, _pos(1, total), label)
    t0 = time.monotonic()
    try:
        img, digest = resolve_image(ctx, base, stage.platform)
    except BuildError as e:
        ctx.progress.step_error(vid, str(e))
        raise StepError(
            file=ctx.file,
            line=stage.from_line,
            stage=stage.name,
            position=_pos(1, total),
            text=label,
            message=str(e),
        ) from None
    st = image_state(img)
    key = compute_key("", base_record(base, digest, stage.platform))
    ctx.progress.step_done(vid, time.monotonic() - t0)
    return replace(st, key=key)  # its triggers run first (see run())


def run(ctx: BuildContext, stage: PlannedStage) -> StageState:
    state = start(ctx, stage)
    if state.triggers:
        trig = onbuild_steps(
            list(state.triggers),
            state.base_config,
            ctx.opts.build_args,
            stage.platform,
            stage.from_line,
        )
        stage = replace(stage, steps=(*trig, *stage.steps))
        state = replace(state, triggers=(), base_config=None)
    total = shown_total(stage)
    n = 1
    for idx, step in enumerate(stage.steps):
        ctx.check_abort()
        if dispatch.layer_family(step.instruction) is not None:
            n += 1
        state = do_step(ctx, stage, idx, step, state, _pos(n, total), n)
    return state


def _position(ctx: BuildContext, stage: PlannedStage, idx: int) -> str:
    """Names the step in miss reasons (not part of the key)."""
    return f"{ctx.position_prefix}#{stage.name or stage.index}/{idx}"


def do_step(
    ctx: BuildContext,
    stage: PlannedStage,
    idx: int,
    step: PlannedStep,
    state: StageState,
    position: str,
    n: int,
) -> StageState:
    family = dispatch.layer_family(step.instruction)
    if family is None:
        return _metadata(ctx, stage, idx, step, state, n)
    sources, extra = family.key_inputs(ctx, step, state)
    inputs = step_record(
        step,
        position=_position(ctx, stage, idx),
        platform=stage.platform,
        sources=sources,
        extra=extra,
    )
    key = compute_key(state.key, inputs)
    ctx.used_keys.append(key)
    filtered = not ctx.opts.no_cache and stage.name in ctx.opts.no_cache_filter
    fresh = ctx.opts.no_cache or filtered
    hit = None if fresh else _usable(ctx, ctx.cache.lookup(key))
    remote = ""  # "CACHED (from registry REF)" for a --cache-from hit
    if hit is None and not fresh and ctx.opts.cache_from:
        hit, remote = engine.remote_cache.lookup(ctx, key, state.key, inputs)
    vid = ctx.progress.new_id()
    t0 = time.monotonic()
    if hit is not None:
        ctx.progress.step_started(vid, stage.name, position, _shown(step), reason=remote or None)
        ctx.progress.step_cached(vid)
        ctx.progress.step_done(vid, 0.0)
        res, reran, reason = hit, False, ""
    else:
        if filtered:
            reason = f"re-ran: --no-cache-filter {stage.name}"
        else:
            reason = ctx.cache.explain(
                inputs,
                state.key,
                parent_step=state.step_no,
                parent_reran=state.reran,
                no_cache=ctx.opts.no_cache,
            )
        ctx.progress.step_started(vid, stage.name, position, _shown(step), reason=reason)
        try:
            res = nospace.guard(
                ctx, step, lambda: family.execute(ctx, stage, step, state, vid, position, key)
            )
        except StepError as e:
            ctx.progress.step_error(vid, e.message)
            raise
        except BuildError as e:
            ctx.progress.step_error(vid, str(e))
            raise StepError.of(ctx, stage, step, position, str(e)) from None
        ctx.cache.record(key, state.key, inputs, res)
        ctx.progress.step_done(vid, time.monotonic() - t0)
        reran = True
    applied = family.committed(step, state)
    new = replace(state, config=applied.image).with_result(res)
    new = new.with_history(
        applied.created_by,
        empty=res.kind != "layer",
        created=res.created or ctx.epoch_created,
        line=step.line,
        end_line=step.end_line,
    )
    _outcome(
        ctx,
        stage,
        step,
        n,
        hit is not None,
        reason if hit is None else remote,
        time.monotonic() - t0,
    )
    return replace(new, key=key, step_no=n, reran=reran)


def _shown(step: PlannedStep) -> str:
    """The vertex name: BuildKit marks a base image's trigger with ONBUILD."""
    return f"ONBUILD {step.written}" if step.onbuild else step.written


def _usable(ctx: BuildContext, res: CacheResult | None) -> CacheResult | None:
    """A cache hit is only as good as its layer blob (gc may have removed it)."""
    if res is None or res.kind != "layer":
        return res
    if res.layer is None or not ctx.store.blobs.exists(res.layer.digest):
        return None
    return res


def _metadata(
    ctx: BuildContext, stage: PlannedStage, idx: int, step: PlannedStep, state: StageState, n: int
) -> StageState:
    try:
        a = dispatch.config_change(step, state)
    except BuildError as e:
        raise StepError.of(ctx, stage, step, str(n), str(e)) from None
    inputs = step_record(step, position=_position(ctx, stage, idx), platform=stage.platform)
    key = compute_key(state.key, inputs)
    ctx.used_keys.append(key)
    if ctx.cache.lookup(key) is None:
        ctx.cache.record(key, state.key, inputs, CacheResult("meta"))
    cmd_set = state.cmd_set or dispatch.sets_cmd(step.instruction)
    new = replace(state, config=a.image, key=key, cmd_set=cmd_set)
    created = ctx.epoch_created or new.last_created
    return new.with_history(
        a.created_by, empty=True, created=created, line=step.line, end_line=step.end_line
    )


_KINDS = (
    ("--no-cache", "no-cache"),
    ("not built before", "new"),
    ("instruction changed", "instruction"),
    ("parent step", "parent"),
    ("build arg", "args"),
    ("env ", "env"),
    ("platform", "instruction"),
    ("from ", "base-image"),
    ("base changed", "base-image"),
)


def _outcome(
    ctx: BuildContext,
    stage: PlannedStage,
    step: PlannedStep,
    n: int,
    cached: bool,
    reason: str,
    seconds: float,
) -> None:
    """`n` is the step's number in its stage as the progress shows it (`[n/N]`), so
    "parent step 4 re-ran" and the report's "step 4" name the same step."""
    why = reason.removeprefix("re-ran: ")
    kind = "" if cached else next((k for p, k in _KINDS if why.startswith(p)), "source-changed")
    with ctx.lock:
        ctx.outcomes.append(
            StepOutcome(
                index=n,
                instruction=step.written,
                cached=cached,
                line=step.line,
                stage=stage.name or str(stage.index),
                reason=why,
                kind=kind,
                seconds=seconds,
                file=ctx.file,
            )
        )
