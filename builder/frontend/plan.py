"""The pure build plan (ARCHITECTURE §3, stage 3): Dockerfile text in, `BuildPlan` out.

Public API (stable):
- `make_plan(text, *, file, build_args, target, platform, build_platform, base_resolver)
  -> BuildPlan`; `build_platform` is the platform the build runs on (BuildKit's
  BuildPlatforms: the caller passes the host's), `platform` the target (default: the
  build platform);
  `base_resolver(ref, platform) -> Mapping | None` gives a base image's (OCI) config so
  its `Env` takes part in expansion; None means an empty env. No root, network or I/O.
- `BuildPlan(stages, target, warnings, unused_build_args, meta_args, file)`: only the
  stages the target needs, in topological (= file) order; `target` is its index.
- `PlannedStage(index, name, base, platform, steps, deps, images, from_, env,
  arg_names)`: `base` is an image ref, an earlier stage index, or "scratch"; `deps` the
  stage indices it needs (FROM, COPY --from, RUN --mount from=); `images` every image
  ref it reads. (These types live in `builder.frontend.planned`.)
- `PlannedStep(stage, number, instruction, text, env, args, shell, from_stage,
  from_image, arg_values, history_args)`: `instruction` has its words expanded where
  Docker expands them; `text` is its canonical text; `env` is the ENV it sees, `args`
  the ARGs in scope (RUN: plus proxy build-args). ARG defaults and build-args are
  resolved here, once: `arg_values` says which value each name of an ARG takes, and a
  RUN's `history_args` which ARGs its history lists. What a step's cache key covers is
  `builder.cache_inputs` (ARCHITECTURE §8).
- `plan_to_json(plan) -> dict`: what `pybuild plan --json` prints.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping

from builder.errors import DockerfileError
from builder.frontend.args import (
    PROXY_ARGS,
    GlobalArgs,
    StageArgs,
    config_env,
    normalize_platform,
    platform_args,
    try_expand,
)
from builder.frontend.dump import canonical_text, plan_json
from builder.frontend.expand import ExpansionError, Lexer, expand_word
from builder.frontend.instructions import (
    Add,
    Arg,
    Copy,
    Env,
    Instruction,
    Run,
    Shell,
    Stage,
)
from builder.frontend.instructions.dockerfile import parse_dockerfile
from builder.frontend.planned import DEFAULT_SHELL, BuildPlan, PlannedStage, PlannedStep

BaseResolver = Callable[[str, str], "Mapping | None"]
# The planner never asks the machine: callers pass the host's platform (the engine and
# `pybuild plan` do), and a plan made without one is planned for this one.
DEFAULT_BUILD_PLATFORM = "linux/amd64"


class _Planner:
    def __init__(
        self,
        parsed,
        file: str,
        build_args: Mapping[str, str],
        platform: str,
        build_platform: str,
        resolver: BaseResolver | None,
    ) -> None:
        self.parsed, self.file, self.resolver = parsed, file, resolver
        self.build = normalize_platform(build_platform)
        self.target_platform = normalize_platform(platform) if platform else self.build
        self.globals = GlobalArgs(
            build_args, platform_args(self.target_platform, self.build), parsed.escape
        )
        self.names = {s.name: s.index for s in reversed(parsed.stages) if s.name}
        self.used_args: set[str] = set()

    def error(self, inst: Instruction, message: str) -> DockerfileError:
        return DockerfileError(message, inst.span, self.file, inst.keyword)

    def expander(
        self, inst: Instruction, env: Mapping[str, str], raw: bool = False
    ) -> Callable[[str], str]:
        """Expands one word; `raw` keeps quotes (heredoc bodies, BuildKit's ExpandRaw)."""
        lexer = Lexer(self.parsed.escape, skip_quotes=True) if raw else None

        def fn(word: str) -> str:
            try:
                if lexer is not None:
                    return lexer.process(word, env).result
                return expand_word(word, env, self.parsed.escape)
            except ExpansionError as e:
                raise self.error(inst, str(e)) from None

        return fn

    def meta(self) -> None:
        for arg in self.parsed.meta_args:
            for name, default in arg.args:
                self.used_args.add(name)
                try:
                    self.globals.declare(name, default)
                except ExpansionError as e:
                    raise self.error(arg, str(e)) from None

    def stage_ref(self, stage: Stage, inst: Instruction, ref: str) -> int | None:
        """An earlier stage's index for `--from`/`from=`, None for an image ref."""
        if ref.isdigit():
            n = int(ref)
            if n >= stage.index:
                raise self.error(
                    inst, f"invalid --from={ref}: stage index {n} is not an earlier stage"
                )
            return n
        idx = self.names.get(ref.lower())
        if idx is None:
            return None
        if idx >= stage.index:
            what = "the stage itself" if idx == stage.index else "a later stage"
            raise self.error(inst, f"--from={ref} refers to {what} (circular dependency)")
        return idx


def _plan_stage(p: _Planner, stage: Stage, done: dict[int, PlannedStage]) -> PlannedStage:
    frm = stage.from_
    frm_x = frm.expand(p.expander(frm, p.globals.values))
    if not frm_x.base:
        raise p.error(frm, "base name (" + frm.base + ") should not be blank")
    try:
        plat = normalize_platform(frm_x.platform) if frm_x.platform else p.target_platform
    except ValueError as e:
        raise p.error(frm, str(e)) from None
    base: str | int = frm_x.base
    deps: list[int] = []
    images: list[str] = []
    idx = p.names.get(frm_x.base.lower())
    shell: tuple[str, ...] = DEFAULT_SHELL
    arg_names: list[str] = []  # BuildKit's d.buildArgs: declared here and in the base stage
    if idx is not None and idx < stage.index:
        base = idx
        deps.append(idx)
        parent = done[idx]
        arg_names = list(parent.arg_names)
        base_env = dict(parent.env)
        shell = parent.steps[-1].shell if parent.steps else DEFAULT_SHELL
    elif frm_x.base == "scratch":
        base_env = {}
    else:
        images.append(frm_x.base)
        base_env = config_env(p.resolver(frm_x.base, plat) if p.resolver else None)
    state = StageArgs(p.globals, base_env)
    steps: list[PlannedStep] = []
    for number, inst in enumerate(stage.commands, 1):
        lookup = state.lookup()
        x = inst.expand(p.expander(inst, lookup))  # words where Docker expands them
        if (why := x.conversion_error()) is not None:  # BuildKit refuses it converting
            raise p.error(inst, why)
        from_stage, from_image = None, ""
        if isinstance(x, Copy) and x.heredocs:
            x = x.expand_heredocs(p.expander(inst, lookup, raw=True))
        ref = x.from_ if isinstance(x, Copy) and not isinstance(x, Add) else ""
        if ref:
            from_stage = p.stage_ref(stage, inst, ref)
            if from_stage is None:
                from_image = ref
        if isinstance(x, Run):
            for mount in x.mounts:
                if mount.from_:
                    s = p.stage_ref(stage, inst, mount.from_)
                    deps.append(s) if s is not None else images.append(mount.from_)
        if from_stage is not None:
            deps.append(from_stage)
        if from_image:
            images.append(from_image)
        arg_values: tuple[tuple[str, str | None], ...] = ()
        if isinstance(x, Arg):
            for name, default in x.args:
                p.used_args.add(name)
                state.declare(name, default)
                arg_names.append(name)
            arg_values = state.values_of(x.args)
        elif isinstance(x, Env):
            for kv in x.pairs:
                state.set_env(kv.key, kv.value)
        elif isinstance(x, Shell):
            shell = x.shell
        args = state.run_args() if isinstance(x, Run) else dict(state.args)
        history_args = (
            tuple((k, args.get(k) or "") for k in arg_names) if isinstance(x, Run) else ()
        )
        steps.append(
            PlannedStep(
                stage.index,
                number,
                x,
                canonical_text(x),
                tuple(state.env.items()),
                tuple(sorted(args.items())),
                shell,
                from_stage,
                from_image,
                arg_values,
                history_args,
            )
        )
    return PlannedStage(
        stage.index,
        stage.name,
        base,
        plat,
        tuple(steps),
        tuple(sorted(set(deps))),
        tuple(dict.fromkeys(images)),
        frm_x,
        tuple(state.env.items()),
        tuple(arg_names),
    )


def make_plan(
    dockerfile_text: str,
    *,
    file: str = "Dockerfile",
    build_args: Mapping[str, str] | None = None,
    target: str | None = None,
    platform: str | None = None,
    build_platform: str = DEFAULT_BUILD_PLATFORM,
    base_resolver: BaseResolver | None = None,
) -> BuildPlan:
    parsed = parse_dockerfile(dockerfile_text, file)
    build_args = dict(build_args or {})
    p = _Planner(parsed, file, build_args, platform or "", build_platform, base_resolver)
    p.meta()
    if target:
        tidx = p.names.get(target.lower())
        if tidx is None:
            raise DockerfileError(f'target stage "{target}" could not be found', None, file)
    else:
        tidx = parsed.stages[-1].index
    needed = _needed(p, parsed, tidx)
    while True:  # a --from that only stage ARGs resolve can add a stage: plan again
        done: dict[int, PlannedStage] = {}
        p.used_args = {n for a in parsed.meta_args for n, _ in a.args}
        for stage in parsed.stages:
            if stage.index in needed:
                done[stage.index] = _plan_stage(p, stage, done)
        more = {d for s in done.values() for d in s.deps} - needed
        if not more:
            break
        needed |= _closure(more, {s.index: set(s.deps) for s in done.values()})
    warnings = [str(w) for w in parsed.warnings]
    unused = sorted(k for k in build_args if k not in p.used_args and not _predefined(k))
    if unused:
        warnings.append(f"[Warning] One or more build-args [{' '.join(unused)}] were not consumed")
    meta = tuple(
        (k, p.globals.values[k]) for k in sorted(p.globals.declared) if k in p.globals.values
    )
    return BuildPlan(
        tuple(done[i] for i in sorted(done)), tidx, tuple(warnings), tuple(unused), meta, file
    )


def _needed(p: _Planner, parsed, target: int) -> set[int]:
    """Stages reachable from the target through FROM, COPY --from and mount from=."""
    deps: dict[int, set[int]] = {}
    for stage in parsed.stages:
        refs: set[int] = set()
        base = try_expand(stage.from_.base, p.globals.values, parsed.escape)
        idx = p.names.get(base.lower())
        if idx is not None and idx < stage.index:
            refs.add(idx)
        for inst in stage.commands:
            words = [inst.from_] if isinstance(inst, Copy) and not isinstance(inst, Add) else []
            if isinstance(inst, Run):
                words += [m.from_ for m in inst.mounts]
            for word in filter(None, words):
                ref = try_expand(word, p.globals.values, parsed.escape)
                s = (
                    p.stage_ref(stage, inst, ref)
                    if (ref.isdigit() or ref.lower() in p.names)
                    else None
                )
                if s is not None:
                    refs.add(s)
        deps[stage.index] = refs
    return _closure({target}, deps)


def _predefined(name: str) -> bool:
    """Build-args docker never reports as unused: proxies, BUILDKIT_*, SOURCE_DATE_EPOCH."""
    return name in PROXY_ARGS or name.startswith("BUILDKIT_") or name == "SOURCE_DATE_EPOCH"


def _closure(start: set[int], deps: Mapping[int, set[int]]) -> set[int]:
    needed: set[int] = set()
    todo = list(start)
    while todo:
        i = todo.pop()
        if i not in needed:
            needed.add(i)
            todo.extend(deps.get(i, ()))
    return needed


__all__ = ["BuildPlan", "PlannedStage", "PlannedStep", "make_plan", "plan_to_json"]


def plan_to_json(plan: BuildPlan) -> dict:
    return plan_json(plan)
