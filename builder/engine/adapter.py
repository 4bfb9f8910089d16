"""The front end's `BuildPlan` (builder.frontend.plan.make_plan) -> the engine's model.

Everything the engine knows about the front end's types is here: the typed
instructions of builder.frontend.instructions.model become `model.Step`s with kind-specific
`values`; stages keep their base (image ref, stage index or "scratch"), platform and
dependencies. The base resolver handed to the planner reads base images from the
store (pulling when needed) so ENV from the base is used in expansion.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from typing import Any

from builder.engine.model import Heredoc, Plan, RunMount, Stage, Step
from store.oci.platform import host_platform


def make_plan(ctx: Any) -> Plan:
    """The engine's plan: from the plan cache when nothing it was made from changed,
    else from the front end (and then cached)."""
    from builder.engine import plan_cache

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


def _front_plan(ctx: Any, bases: list[tuple[str, str, str | None]]) -> Plan:
    from builder.frontend.plan import make_plan as front

    opts = ctx.opts
    image_triggers: list[str] = []  # ONBUILD of the base images

    def resolver(ref: str, platform: Any) -> Mapping[str, Any] | None:
        from builder.engine.sources import resolve_image
        from builder.errors import BuildError

        plat = str(platform or ctx.platform)
        try:
            img, digest = resolve_image(ctx, ref, plat)
        except BuildError:
            bases.append((ref, plat, None))
            return None  # the stage's FROM reports it, with its Dockerfile line
        bases.append((ref, plat, digest))
        cfg = img.config()
        image_triggers.extend(cfg.config.on_build or ())
        return cfg.to_json()

    def plan_for(target: str | None) -> Plan:
        bp = front(
            opts.dockerfile_text,
            file=opts.dockerfile_name,
            build_args=dict(opts.build_args),
            target=target,
            platform=ctx.platform,
            build_platform=str(host_platform()),
            base_resolver=resolver,
        )
        return convert(bp, opts.build_args, ctx.platform, opts.dockerfile_name)

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


def _stages_of(plan_for: Any, ref: str) -> tuple[Stage, ...]:
    from builder.errors import DockerfileError

    try:
        return plan_for(ref).stages
    except DockerfileError:
        return ()  # not a stage: an image, resolved when the trigger runs


def _trigger_refs(plan: Plan, image_triggers: list[str]) -> list[str]:
    """Names in `--from=` / `from=` of the triggers that will run: the base images'
    ONBUILD, and ONBUILD steps of stages that others build on."""
    import re

    bases = {st.base for st in plan.stages if isinstance(st.base, int)}
    exprs = list(image_triggers)
    for st in plan.stages:
        if st.index in bases:
            exprs += [str(s.get("expression") or "") for s in st.steps if s.kind == "ONBUILD"]
    refs = [r for e in exprs for r in re.findall(r"(?:--from=|[,\s]from=)([^\s,]+)", e)]
    return [r for r in dict.fromkeys(refs) if not r.isdigit()]


def _attr(obj: Any, *names: str, default: Any = None) -> Any:
    for n in names:
        if hasattr(obj, n):
            return getattr(obj, n)
    return default


def convert(bp: Any, build_args: Mapping[str, str], platform: str, file: str) -> Plan:
    stages = []
    declared: dict[int, list[str]] = {}
    for ps in _attr(bp, "stages"):
        base = _attr(ps, "base")
        # BuildKit's d.buildArgs: ARGs declared in the stage (and in its base stage)
        names = list(declared.get(base, [])) if isinstance(base, int) else []
        steps_l = []
        for s in _attr(ps, "steps", default=()):
            steps_l.append(step(s, build_args, names))
        declared[int(_attr(ps, "index"))] = names
        steps = tuple(steps_l)
        base = _attr(ps, "base")
        if not isinstance(base, int):
            base = str(base)
        from_ins = _attr(ps, "from_", "instruction", "from_instruction")
        span = _attr(from_ins, "span") if from_ins is not None else _attr(ps, "span")
        from_text = _attr(from_ins, "original", default="") if from_ins is not None else ""
        stages.append(
            Stage(
                index=int(_attr(ps, "index")),
                name=str(_attr(ps, "name", default="") or ""),
                base=base,
                platform=str(_attr(ps, "platform", default="") or platform),
                steps=steps,
                deps=frozenset(_attr(ps, "deps", default=()) or ()),
                from_line=getattr(span, "line", 0) if span else 0,
                from_text=_one_line(from_text) if from_text else f"FROM {base}",
            )
        )
    target = _attr(bp, "target_index", "target", default=None)
    if not isinstance(target, int):
        target = stages[-1].index
    return Plan(
        tuple(stages), target, file, tuple(str(w) for w in _attr(bp, "warnings", default=()) or ())
    )


def _one_line(text: str) -> str:
    return " ".join(text.split("\n", 1)[0].split()) if "\n" in text else text.strip()


def _canonical(ins: Any) -> str:
    fields = {
        f.name: getattr(ins, f.name)
        for f in dataclasses.fields(ins)
        if f.name not in ("span", "original", "trigger")
    }
    return f"{ins.keyword} {fields!r}"


def step(
    ps: Any,
    build_args: Mapping[str, str],
    declared: list[str] | None = None,
    line: int | None = None,
) -> Step:
    """One PlannedStep -> Step. `declared` is the stage's ARG names so far (updated)."""
    ins = _attr(ps, "instruction", "ins", default=ps)
    kind = ins.keyword
    span = ins.span
    env = dict(_attr(ps, "env", default={}) or {})
    args = dict(_attr(ps, "args", "build_args", default={}) or {})
    values = _values(kind, ins, args, build_args)
    names = declared if declared is not None else []
    if kind == "ARG":
        names.extend(k for k, _ in ins.args)
    resolved = dict(values.get("resolved") or ()) if kind == "ARG" else {}
    ordered = tuple((k, args.get(k, resolved.get(k)) or "") for k in names)
    if kind in ("COPY", "ADD"):
        fs = _attr(ps, "from_stage")
        if fs is not None:
            values["from"] = fs
    text = _attr(ps, "text", default="") or _canonical(ins)
    return Step(
        kind=kind,
        text=_one_line(ins.original) or kind,
        line=line if line is not None else span.line,
        end_line=getattr(span, "end_line", 0) or span.line,
        env=env,
        args=args,
        build_args_ordered=ordered,
        values=values,
        onbuild=line is not None,
        canonical=text,
    )


def onbuild_steps(
    triggers: list[str],
    base_config: Mapping[str, Any],
    build_args: Mapping[str, str],
    platform: str,
    line: int,
) -> list[Step]:
    """The base image's ONBUILD triggers as steps, at the stage's FROM line (BuildKit
    resets the trigger locations to it)."""
    from builder.frontend.plan import make_plan as front

    text = "FROM onbuild-base\n" + "\n".join(triggers) + "\n"
    bp = front(
        text,
        build_args=dict(build_args),
        platform=platform,
        build_platform=str(host_platform()),
        base_resolver=lambda ref, plat: base_config,
    )
    names: list[str] = []
    return [step(s, build_args, names, line=line) for s in bp.stages[-1].steps]


def _docs(ins: Any) -> list[Heredoc]:
    return [Heredoc(d.name, d.data) for d in getattr(ins, "heredocs", ()) or ()]


def _values(
    kind: str, ins: Any, args: Mapping[str, str], build_args: Mapping[str, str]
) -> dict[str, Any]:
    if kind == "RUN":
        return {
            "args": list(ins.command),
            "shell_form": not ins.exec_form,
            "heredocs": _docs(ins),
            "mounts": [_mount(m) for m in ins.mounts],
            "network": ins.network or None,
            "security": ins.security or None,
        }
    if kind in ("CMD", "ENTRYPOINT"):
        return {"args": list(ins.command), "shell_form": not ins.exec_form}
    if kind == "SHELL":
        return {"argv": list(ins.shell)}
    if kind in ("ENV", "LABEL"):
        return {"pairs": [(p.key, p.value) for p in ins.pairs]}
    if kind == "ARG":
        resolved: list[tuple[str, str | None]] = []
        for k, default in ins.args:
            if k in build_args:
                resolved.append((k, build_args[k]))
            elif default is not None:
                resolved.append((k, default))
            else:
                resolved.append((k, args.get(k)))
        return {"resolved": resolved}
    if kind == "MAINTAINER":
        return {"name": ins.maintainer}
    if kind == "EXPOSE":
        return {"ports": list(ins.ports)}
    if kind == "VOLUME":
        return {"paths": list(ins.paths)}
    if kind == "USER":
        return {"user": ins.value}
    if kind == "WORKDIR":
        return {"path": ins.value}
    if kind == "STOPSIGNAL":
        return {"signal": ins.value}
    if kind in ("COPY", "ADD"):
        return {
            "sources": list(ins.sources),
            "dest": ins.dest,
            "heredocs": _docs(ins),
            "from": ins.from_ or None,
            "chown": ins.chown,
            "chmod": ins.chmod,
            "link": ins.link,
            "parents": ins.parents,
            "excludes": list(ins.excludes),
            "checksum": getattr(ins, "checksum", "") or "",
        }
    if kind == "HEALTHCHECK":
        if ins.none:
            return {"test": ["NONE"], "durations": {}}
        return {
            "test": list(ins.test),
            "durations": {
                "interval": ins.interval,
                "timeout": ins.timeout,
                "start_period": ins.start_period,
                "start_interval": ins.start_interval,
                "retries": ins.retries,
            },
        }
    if kind == "ONBUILD":
        return {"expression": ins.expression}
    return {}


def _mount(m: Any) -> RunMount:
    return RunMount(
        type=m.type,
        target=m.target,
        source=m.source,
        from_=m.from_ or None,
        id=m.id,
        sharing=m.sharing or "shared",
        readonly=m.readonly,
        required=m.required,
        mode=m.mode,
        uid=m.uid,
        gid=m.gid,
        size=m.size,
        env=m.env,
    )
