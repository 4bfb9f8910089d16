"""One stage, step by step: the cache lookup (key from the parent key and the step's
inputs), the progress events, the executor for a miss, metadata instructions applied
to the config, and history entries in BuildKit's form with the Dockerfile line."""

from __future__ import annotations

import time
from dataclasses import replace

from builder import config_ops as ops
from builder import history
from builder.cache import CacheInputs, CacheResult, compute_key
from builder.engine import copy_step, nospace, run_step
from builder.engine.failure import StepError
from builder.engine.model import METADATA, Stage, Step
from builder.engine.sources import image_state, resolve_image, scratch_state
from builder.engine.state import BuildContext, StageState
from builder.errors import BuildError

LAYER_KINDS = ("RUN", "COPY", "ADD", "WORKDIR")


def shown_total(stage: Stage) -> int:
    """BuildKit numbers FROM and the steps that make a filesystem vertex."""
    return 1 + sum(1 for s in stage.steps if s.kind in LAYER_KINDS)


def _pos(n: int, total: int) -> str:
    return f"{n}/{total}"


def start(ctx: BuildContext, stage: Stage) -> StageState:
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
        return replace(
            st, key=compute_key("", CacheInputs("scratch", "FROM scratch", platform=stage.platform))
        )
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
    key = compute_key(
        "", CacheInputs(f"image {base}", f"FROM {base}@{digest}", platform=stage.platform)
    )
    ctx.progress.step_done(vid, time.monotonic() - t0)
    return replace(st, key=key)  # its triggers run first (see run())


def run(ctx: BuildContext, stage: Stage) -> StageState:
    state = start(ctx, stage)
    if state.triggers:
        from builder.engine.adapter import onbuild_steps

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
        if step.kind in LAYER_KINDS:
            n += 1
        state = do_step(ctx, stage, idx, step, state, _pos(n, total), n)
    return state


def _inputs(
    ctx: BuildContext, stage: Stage, idx: int, step: Step, state: StageState
) -> CacheInputs:
    sources: dict[str, str] = {}
    extra: dict[str, str] = {}
    if step.kind in ("COPY", "ADD"):
        sources, extra = copy_step.cache_sources(ctx, step, state)
    elif step.kind == "RUN":
        for m in step.get("mounts") or ():
            if m.type in ("bind", "cache") and m.from_ not in (None, ""):
                from builder.engine.sources import source_key

                extra[f"mount {m.target} from {m.from_}"] = source_key(ctx, m.from_)
            elif m.type == "bind":
                extra[f"mount {m.target}"] = _context_hash(ctx, m.source or ".")
        if step.get("network") or ctx.opts.network != "default":
            extra["network"] = step.get("network") or ctx.opts.network
    if step.kind in ("RUN", "WORKDIR"):
        # what the step runs as and where: part of the config, not of the text
        c = state.config.config
        extra["user"] = c.user or ""
        extra["workdir"] = c.working_dir or "/"
        if step.kind == "RUN" and step.get("shell_form", True):
            extra["shell"] = " ".join(ops.shell_of(state.config))
    if step.canonical:
        extra["expanded"] = step.canonical
    return CacheInputs(
        position=f"{ctx.position_prefix}#{stage.name or stage.index}/{idx}",
        instruction=step.text,
        args=dict(step.args),
        env=dict(step.env),
        platform=stage.platform,
        sources=sources,
        extra=extra,
    )


def _context_hash(ctx: BuildContext, src: str) -> str:
    from builder.copy import CopyOptions, source_hash

    return source_hash(ctx.context_tree, [src], CopyOptions(), ctx.hashes()).digest


def do_step(
    ctx: BuildContext, stage: Stage, idx: int, step: Step, state: StageState, position: str, n: int
) -> StageState:
    if step.kind in METADATA:
        return _metadata(ctx, stage, idx, step, state, n)
    if step.kind not in LAYER_KINDS:
        raise BuildError(f"{ctx.file}:{step.line}: unsupported instruction {step.kind}")
    inputs = _inputs(ctx, stage, idx, step, state)
    key = compute_key(state.key, inputs)
    ctx.used_keys.append(key)
    hit = None if ctx.opts.no_cache else _usable(ctx, ctx.cache.lookup(key))
    remote = ""  # "CACHED (from registry REF)" for a --cache-from hit
    if hit is None and not ctx.opts.no_cache and ctx.opts.cache_from:
        from builder.engine.remote_cache import lookup

        hit, remote = lookup(ctx, key, state.key, inputs)
    vid = ctx.progress.new_id()
    t0 = time.monotonic()
    if hit is not None:
        ctx.progress.step_started(vid, stage.name, position, _shown(step), reason=remote or None)
        ctx.progress.step_cached(vid)
        ctx.progress.step_done(vid, 0.0)
        res, reran, reason = hit, False, ""
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
                ctx, step, lambda: _execute(ctx, stage, step, state, vid, position, key)
            )
        except StepError as e:
            ctx.progress.step_error(vid, e.message)
            raise
        except BuildError as e:
            ctx.progress.step_error(vid, str(e))
            raise StepError(
                file=ctx.file,
                line=step.line,
                stage=stage.name,
                position=position,
                text=step.text,
                message=str(e),
            ) from None
        ctx.cache.record(key, state.key, inputs, res)
        ctx.progress.step_done(vid, time.monotonic() - t0)
        reran = True
    new = state
    if step.kind == "WORKDIR":
        applied = ops.workdir(state.config, step.get("path"))
        new = replace(new, config=applied.image)
        created_by = applied.created_by
    elif step.kind == "RUN":
        argv, _ = run_step.command_line(step, state)
        created_by = history.run_created_by(argv, step.build_args_ordered)
    else:
        created_by = history.copy_created_by(
            step.kind == "ADD",
            _display_sources(step),
            step.get("dest") or ".",
            chown=step.get("chown") or "",
            chmod=step.get("chmod") or "",
            parents=bool(step.get("parents")),
        )
    new = new.with_result(res)
    new = new.with_history(
        created_by,
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


def _shown(step: Step) -> str:
    """The vertex name: BuildKit marks a base image's trigger with ONBUILD."""
    return f"ONBUILD {step.text}" if step.onbuild else step.text


def _display_sources(step: Step) -> list[str]:
    docs = step.get("heredocs") or ()
    if docs:
        return [f"<<{d.name}" for d in docs]
    return list(step.get("sources") or ())


def _usable(ctx: BuildContext, res: CacheResult | None) -> CacheResult | None:
    """A cache hit is only as good as its layer blob (gc may have removed it)."""
    if res is None or res.kind != "layer":
        return res
    if res.layer is None or not ctx.store.blobs.exists(res.layer.digest):
        return None
    return res


def _execute(
    ctx: BuildContext,
    stage: Stage,
    step: Step,
    state: StageState,
    vid: int,
    position: str,
    key: str,
) -> CacheResult:
    if step.kind == "RUN":
        return run_step.execute(ctx, stage, step, state, vid, position, key)
    if step.kind == "WORKDIR":
        wd = ops.workdir(state.config, step.get("path")).image.config.working_dir or "/"
        if wd == "/":
            return CacheResult("empty", created=ctx.epoch_created)
        return copy_step.workdir(ctx, stage, step, state, vid, position, key, wd)
    return copy_step.execute(ctx, stage, step, state, vid, position, key)


def _metadata(
    ctx: BuildContext, stage: Stage, idx: int, step: Step, state: StageState, n: int
) -> StageState:
    img = state.config
    k = step.kind
    try:
        if k == "ENV":
            a = ops.env(img, step.get("pairs"))
        elif k == "LABEL":
            a = ops.label(img, step.get("pairs"))
        elif k == "CMD":
            a = ops.cmd(img, step.get("args"), step.get("shell_form"))
        elif k == "ENTRYPOINT":
            a = ops.entrypoint(img, step.get("args"), step.get("shell_form"), state.cmd_set)
        elif k == "EXPOSE":
            a = ops.expose(img, step.get("ports"))
        elif k == "VOLUME":
            a = ops.volume(img, step.get("paths"))
        elif k == "USER":
            a = ops.user(img, step.get("user"))
        elif k == "STOPSIGNAL":
            a = ops.stopsignal(img, step.get("signal"))
        elif k == "HEALTHCHECK":
            a = ops.healthcheck(img, step.get("test"), **step.get("durations", {}))
        elif k == "SHELL":
            a = ops.shell(img, step.get("argv"))
        elif k == "ONBUILD":
            a = ops.onbuild(img, step.get("expression"))
        elif k == "MAINTAINER":
            a = ops.maintainer(img, step.get("name"))
        else:  # ARG
            a = ops.arg(img, step.get("resolved"))
    except BuildError as e:
        raise StepError(
            file=ctx.file,
            line=step.line,
            stage=stage.name,
            position=str(n),
            text=step.text,
            message=str(e),
        ) from None
    inputs = CacheInputs(
        position=f"{ctx.position_prefix}#{stage.name or stage.index}/{idx}",
        instruction=step.text,
        args=dict(step.args),
        env=dict(step.env),
        platform=stage.platform,
        extra={"expanded": step.canonical} if step.canonical else {},
    )
    key = compute_key(state.key, inputs)
    ctx.used_keys.append(key)
    if ctx.cache.lookup(key) is None:
        ctx.cache.record(key, state.key, inputs, CacheResult("meta"))
    new = replace(state, config=a.image, key=key, cmd_set=state.cmd_set or k == "CMD")
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
    ctx: BuildContext, stage: Stage, step: Step, n: int, cached: bool, reason: str, seconds: float
) -> None:
    """`n` is the step's number in its stage as the progress shows it (`[n/N]`), so
    "parent step 4 re-ran" and the report's "step 4" name the same step."""
    from builder.inspect.cache_report import StepOutcome

    why = reason.removeprefix("re-ran: ")
    kind = "" if cached else next((k for p, k in _KINDS if why.startswith(p)), "source-changed")
    with ctx.lock:
        ctx.outcomes.append(
            StepOutcome(
                index=n,
                instruction=step.text,
                cached=cached,
                line=step.line,
                stage=stage.name or str(stage.index),
                reason=why,
                kind=kind,
                seconds=seconds,
                file=ctx.file,
            )
        )
