"""The plan a build runs: the front end's `BuildPlan`, from the plan cache or made.

Owns getting a plan for a build: from the plan cache when nothing it was made from
changed, else from `builder.frontend.plan.make_plan` with a base resolver that reads
base images from the store (pulling when needed) so their ENV is used in expansion;
adding the stages that ONBUILD triggers name; and planning a base image's ONBUILD
triggers as steps. The steps are the front end's `PlannedStep`s as they are: nothing
is converted or resolved again here.
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any

from builder import config_ops, frontend
from builder.engine import plan_cache
from builder.engine.sources import resolve_image
from builder.errors import BuildError, DockerfileError
from builder.frontend.instructions.model import Onbuild
from builder.frontend.planned import BuildPlan, PlannedStage, PlannedStep
from store.oci.platform import host_platform

if TYPE_CHECKING:
    from builder.engine.state import BuildContext


def make_plan(ctx: BuildContext) -> BuildPlan:
    """The engine's plan: from the plan cache when nothing it was made from changed,
    else from the front end (and then cached)."""
    opts = ctx.opts
    key = plan_cache.key_of(
        opts.dockerfile_text, opts.dockerfile_name, opts.build_args, opts.target, ctx.platform
    )
    plan = plan_cache.load(ctx, key)
    if plan is not None:
        return plan
    bases: list[tuple[str, str, str | None]] = []
    plan = _front_plan(ctx, bases)
    plan_cache.save(ctx, key, bases, plan)
    return plan


def _front_plan(ctx: BuildContext, bases: list[tuple[str, str, str | None]]) -> BuildPlan:
    opts = ctx.opts
    image_triggers: list[str] = []  # ONBUILD of the base images

    def resolver(ref: str, platform: Any) -> Mapping[str, Any] | None:
        plat = str(platform or ctx.platform)
        try:
            img, digest = resolve_image(ctx, ref, plat)
        except BuildError:
            bases.append((ref, plat, None))
            return None  # the stage's FROM reports it, with its Dockerfile line
        bases.append((ref, plat, digest))
        cfg = img.config()
        image_triggers.extend(cfg.config.on_build or ())
        return config_ops.with_path(cfg).to_json()

    def plan_for(target: str | None) -> BuildPlan:
        bp = frontend.make_plan(
            opts.dockerfile_text,
            file=opts.dockerfile_name,
            build_args=dict(opts.build_args),
            target=target,
            platform=ctx.platform,
            build_platform=str(host_platform()),
            base_resolver=resolver,
        )
        return bp

    plan = plan_for(opts.target)
    # ONBUILD triggers of a stage used as a base may name other stages (COPY --from,
    # --mount from=) that the target did not need: add them, as BuildKit's
    # initOnBuildTriggers adds their dependencies
    seen: set[str] = set()
    while True:
        have = {st.index for st in plan.stages} | {st.name.lower() for st in plan.stages}
        wanted = [
            ref for ref in _trigger_refs(plan, image_triggers) if ref.lower() not in have | seen
        ]
        if not wanted:
            return plan
        seen.update(r.lower() for r in wanted)
        extra = [
            st
            for ref in wanted
            for st in _stages_of(plan_for, ref)
            if st.index not in {s.index for s in plan.stages}
        ]
        merged = {st.index: st for st in (*plan.stages, *extra)}
        plan = dataclasses.replace(plan, stages=tuple(merged[i] for i in sorted(merged)))


def _stages_of(plan_for: Callable[[str | None], BuildPlan], ref: str) -> tuple[PlannedStage, ...]:
    try:
        return plan_for(ref).stages
    except DockerfileError:
        return ()  # not a stage: an image, resolved when the trigger runs


def _trigger_refs(plan: BuildPlan, image_triggers: list[str]) -> list[str]:
    """Names in `--from=` / `from=` of the triggers that will run: the base images'
    ONBUILD, and ONBUILD steps of stages that others build on."""
    bases = {st.base for st in plan.stages if isinstance(st.base, int)}
    exprs = list(image_triggers)
    for st in plan.stages:
        if st.index in bases:
            exprs += [
                s.instruction.expression for s in st.steps if isinstance(s.instruction, Onbuild)
            ]
    refs = [r for e in exprs for r in re.findall(r"(?:--from=|[,\s]from=)([^\s,]+)", e)]
    return [r for r in dict.fromkeys(refs) if not r.isdigit()]


def onbuild_steps(
    triggers: list[str],
    base_config: Mapping[str, Any],
    build_args: Mapping[str, str],
    platform: str,
    line: int,
) -> list[PlannedStep]:
    """The base image's ONBUILD triggers as steps, planned by the front end as a stage
    on that base, at the stage's FROM line (BuildKit resets the trigger locations to it)."""
    text = "FROM onbuild-base\n" + "\n".join(triggers) + "\n"
    bp = frontend.make_plan(
        text,
        build_args=dict(build_args),
        platform=platform,
        build_platform=str(host_platform()),
        base_resolver=lambda ref, plat: base_config,
    )
    return [dataclasses.replace(s, trigger_line=line) for s in bp.stages[-1].steps]
