"""RUN: the command line as BuildKit builds it (shell form, exec form, heredocs), what
the build adds to a RUN's cache record (mount sources, network, user, workdir, shell)
and its history `created_by`. A `builder.engine.dispatch.LayerFamily`: a miss runs in
`builder.engine.run_exec` (the sandbox, the mounts, the commit), which a build whose
RUN steps are all cached never loads."""

from __future__ import annotations

from builder import config_ops, engine, history
from builder.cache import CacheResult
from builder.cache_inputs import runs_as
from builder.copy import CopyOptions, source_hash
from builder.engine.sources import source_key
from builder.engine.state import BuildContext, StageState
from builder.frontend.instructions.model import Run
from builder.frontend.planned import PlannedStage, PlannedStep

PIPES_DIR = "/dev/pipes"


def run_of(step: PlannedStep) -> Run:
    ins = step.instruction
    assert isinstance(ins, Run), ins  # builder.engine.dispatch sends only RUN here
    return ins


def command_line(step: PlannedStep, state: StageState) -> tuple[list[str], list[tuple[str, str]]]:
    """argv, plus heredoc files to mount at /dev/pipes (name, data) — dispatchRun."""
    ins = run_of(step)
    args = list(ins.command)
    shell_form = not ins.exec_form
    docs = ins.heredocs  # `data` is the body with `<<-`'s tabs removed
    files: list[tuple[str, str]] = []
    if docs and shell_form and len(args) == 1:
        if len(docs) == 1 and docs[0].name and _is_sole_heredoc(args[0]):
            data = docs[0].data
            if data.startswith("#!"):
                files.append((docs[0].name, data))
                return [f"{PIPES_DIR}/{docs[0].name}"], files
            args = [data]
        else:
            full = args[0]
            for d in docs:
                full += "\n" + d.data + d.name
            args = [full]
    if shell_form:
        return config_ops.with_shell(state.config, args), files
    return args, files


def key_inputs(
    ctx: BuildContext, step: PlannedStep, state: StageState
) -> tuple[dict[str, str], dict[str, str]]:
    """What the build adds to a RUN's cache record: no sources; the key of a mount's
    stage or image, a bind mount's context files, the network, --add-host, --shm-size
    and --ulimit, and the user, workdir and (shell form) shell of the config."""
    ins = run_of(step)
    extra: dict[str, str] = {}
    for m in ins.mounts:
        if m.type in ("bind", "cache") and m.from_:
            extra[f"mount {m.target} from {m.from_}"] = source_key(ctx, m.from_)
        elif m.type == "bind":
            extra[f"mount {m.target}"] = _context_hash(ctx, m.source or ".")
    if ins.network or ctx.opts.network != "default":
        extra["network"] = ins.network or ctx.opts.network
    o = ctx.opts  # what BuildKit puts in the exec op, only when given (keys stay the same)
    if o.extra_hosts:
        extra["add-host"] = ",".join(f"{h}:{ip}" for h, ip in o.extra_hosts)
    if o.shm_size:
        extra["shm-size"] = str(o.shm_size)
    if o.ulimits:
        extra["ulimit"] = ",".join(f"{n}={soft}:{hard}" for n, soft, hard in o.ulimits)
    c = state.config.config
    extra.update(runs_as(c.user, c.working_dir))
    if not ins.exec_form:
        extra["shell"] = " ".join(config_ops.shell_of(state.config))
    return {}, extra


def _context_hash(ctx: BuildContext, src: str) -> str:
    return source_hash(ctx.context_tree, [src], CopyOptions(), ctx.hashes()).digest


def committed(step: PlannedStep, state: StageState) -> config_ops.Applied:
    """The config (unchanged) and the history `created_by`: `RUN |N K=V ... # buildkit`."""
    argv, _ = command_line(step, state)
    return config_ops.Applied(state.config, history.run_created_by(argv, step.history_args))


def _is_sole_heredoc(cmd: str) -> bool:
    c = cmd.strip()
    return c.startswith("<<") and " " not in c


def run_env(step: PlannedStep) -> list[tuple[str, str]]:
    env = {**dict(step.args), **dict(step.env)}  # ENV overrides an ARG
    env.setdefault("PATH", config_ops.DEFAULT_PATH)
    return list(env.items())


def execute(
    ctx: BuildContext,
    stage: PlannedStage,
    step: PlannedStep,
    state: StageState,
    vid: int,
    position: str,
    key: str,
) -> CacheResult:
    """A miss: the command in the sandbox, on an overlay of the stage."""
    return engine.run_exec.execute(ctx, stage, step, state, vid, position, key)
