"""RUN on a cache miss: the `--mount`s (cache, secret, bind, tmpfs), the sandbox run on
an overlay of the stage, and the commit of the upper dir into a layer without the mount
points. `builder.engine.run_step` owns the command line and the cache record."""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import os
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from builder import sandbox
from builder.cache import CacheResult
from builder.context import SourceTree
from builder.engine import export_fs, layers
from builder.engine.failure import StepError, process_message
from builder.engine.run_step import PIPES_DIR, command_line, run_env, run_of
from builder.engine.sources import source_key, stage_root
from builder.engine.state import BuildContext, StageState
from builder.errors import BuildError
from builder.frontend.instructions.mount import Mount as RunMount  # not the sandbox's Mount
from builder.frontend.planned import PlannedStage, PlannedStep
from store.fsplace import spread_children


class _Lines:
    """Collects streamed bytes into lines for the progress and the failure tail."""

    def __init__(self, ctx: BuildContext, vid: int) -> None:
        self.ctx, self.vid = ctx, vid
        self.buf = b""
        self.tail: list[str] = []

    def __call__(self, data: bytes) -> None:
        self.buf += data
        *lines, self.buf = self.buf.split(b"\n")
        for raw in lines:
            self._line(raw)

    def _line(self, raw: bytes) -> None:
        text = raw.decode("utf-8", "replace").rstrip("\r")
        self.tail.append(text)
        del self.tail[:-50]
        self.ctx.progress.step_log(self.vid, text)

    def flush(self) -> None:
        if self.buf:
            self._line(self.buf)
            self.buf = b""


def execute(
    ctx: BuildContext,
    stage: PlannedStage,
    step: PlannedStep,
    state: StageState,
    vid: int,
    position: str,
    key: str,
) -> CacheResult:
    sandbox.seccomp.use_store(Path(ctx.store.root))  # compiled filters cached per store
    argv, pipe_files = command_line(step, state)
    cwd = state.config.config.working_dir or "/"
    with contextlib.ExitStack() as stack:
        active = stack.enter_context(layers.writable(ctx.store, state, key))
        mounts: list[sandbox.Mount] = []
        extra_env: list[tuple[str, str]] = []
        ins = run_of(step)
        privileged = ins.security == "insecure"
        for m in ins.mounts:
            mounts.extend(stack.enter_context(_mount(ctx, stage, m, cwd, extra_env)))
        if pipe_files:
            d = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="pybuild-pipes-")))
            for name, data in pipe_files:
                (d / name).write_text(data)
                os.chmod(d / name, 0o755)
            mounts.append(sandbox.Mount(PIPES_DIR, "bind", d, readonly=True))
        network = ins.network or ctx.opts.network
        spec = sandbox.SandboxSpec(
            rootfs=Path(active.merged),
            argv=tuple(argv),
            env=tuple(run_env(step) + extra_env),
            cwd=cwd,
            user=state.config.config.user or "",
            network=network,
            mounts=tuple(mounts),
            memory=ctx.opts.memory,
            cpus=ctx.opts.cpus,
            pids_limit=ctx.opts.pids_limit,
            privileged=privileged,
            extra_hosts=ctx.opts.extra_hosts,
            shm_size=ctx.opts.shm_size,
            ulimits=ctx.opts.ulimits,
        )
        out = _Lines(ctx, vid)
        try:
            result = sandbox.run(spec, stdout=out, stderr=out)
        except BuildError as e:
            out.flush()
            raise _fail(ctx, stage, step, position, str(e), out.tail) from None
        out.flush()
        if result.exit_code != 0 or result.oom_killed:
            msg = process_message(
                argv, result.exit_code, result.signal, result.oom_killed, result.memory_limit
            )
            raise _fail(ctx, stage, step, position, msg, out.tail, result.exit_code)
        exclude = sorted(set(result.created_mountpoints))
        exclude += layers.stub_parents(active, exclude)
        return layers.step_result(ctx, active, exclude)


def _fail(
    ctx: BuildContext,
    stage: PlannedStage,
    step: PlannedStep,
    position: str,
    msg: str,
    tail: list[str],
    status: int | None = None,
) -> StepError:
    return StepError.of(ctx, stage, step, position, msg, tail, status)


def _target(m: RunMount, cwd: str) -> str:
    t = m.target
    return t if t.startswith("/") else os.path.normpath(os.path.join(cwd, t))


@contextlib.contextmanager
def _mount(
    ctx: BuildContext, stage: PlannedStage, m: RunMount, cwd: str, extra_env: list[tuple[str, str]]
) -> Iterator[list[Any]]:
    if m.type == "tmpfs":
        opts = f"size={m.size}" if m.size else ""
        yield [sandbox.Mount(_target(m, cwd), "tmpfs", options=opts)]
    elif m.type == "secret":
        yield from _secret(ctx, m, extra_env)
    elif m.type == "cache":
        yield from _cache(ctx, m, cwd)
    elif m.type == "bind":
        yield from _bind(ctx, m, cwd)
    else:
        raise BuildError(f"RUN --mount=type={m.type} is not supported")


def _secret(
    ctx: BuildContext, m: RunMount, extra_env: list[tuple[str, str]]
) -> Iterator[list[Any]]:
    sid = m.id or os.path.basename(m.target or "")
    src = ctx.opts.secrets.get(sid)
    if src is None:
        if m.required:
            raise BuildError(f"secret {sid} not found: pass --secret id={sid},src=FILE")
        yield []
        return
    data = Path(src["src"]).read_bytes() if "src" in src else os.environ[src["env"]].encode()
    if m.env:
        extra_env.append((m.env, data.decode("utf-8", "replace")))
        if not m.target:
            yield []
            return

    with tempfile.TemporaryDirectory(prefix="pybuild-secret-") as d:
        f = Path(d) / "secret"
        f.write_bytes(data)
        os.chmod(f, m.mode if m.mode is not None else 0o400)
        os.chown(f, m.uid or 0, m.gid or 0)
        yield [sandbox.Mount(m.target or f"/run/secrets/{sid}", "bind", f, readonly=True)]


def _cache(ctx: BuildContext, m: RunMount, cwd: str) -> Iterator[list[Any]]:
    target = _target(m, cwd)
    cid = m.id or target
    base = Path(ctx.store.root) / "cache-mounts"
    base.mkdir(exist_ok=True)
    spread_children(base)
    seed = None
    if m.from_ not in (None, ""):
        # BuildKit keys a cache seeded from a stage or image by id AND that source

        seed = m.from_
        cid = f"{cid}\0{source_key(ctx, seed)}\0{m.source or '/'}"
    name = hashlib.sha256(cid.encode()).hexdigest()[:32]
    d = base / name
    if not d.exists():
        tmp = Path(tempfile.mkdtemp(dir=base, prefix="new-"))
        os.chmod(tmp, m.mode if m.mode is not None else 0o755)
        os.chown(tmp, m.uid or 0, m.gid or 0)
        if seed is not None:
            _seed(ctx, seed, m.source or "/", tmp)
        try:
            os.rename(tmp, d)
        except OSError:
            shutil.rmtree(tmp, ignore_errors=True)
    lock_fd = os.open(base / f"{name}.lock", os.O_RDWR | os.O_CREAT, 0o600)
    private_dir = None
    try:
        if m.sharing == "locked":
            fcntl.flock(lock_fd, fcntl.LOCK_EX)
        elif m.sharing == "private":
            try:
                fcntl.flock(lock_fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:  # in use: this step gets its own empty instance
                private_dir = Path(tempfile.mkdtemp(dir=base, prefix="private-"))
        else:
            fcntl.flock(lock_fd, fcntl.LOCK_SH)
        yield [sandbox.Mount(target, "bind", private_dir or d, readonly=m.readonly)]
    finally:
        os.close(lock_fd)
        if private_dir is not None:
            shutil.rmtree(private_dir, ignore_errors=True)


def _seed(ctx: BuildContext, ref: str | int, source: str, dest: Path) -> None:
    """A new cache directory starts as a copy of `source` in stage or image `ref`."""

    with stage_root(ctx, ref) as root:
        rel = SourceTree(root).resolve(source)
        src = Path(root) / rel if rel else Path(root)
        if not src.is_dir():
            raise BuildError(
                f"RUN --mount=type=cache,from={ref}: source {source} is not a directory"
            )
        export_fs.to_dir(str(src), dest, owners=True)
        st = os.lstat(src)
        os.chown(dest, st.st_uid, st.st_gid)
        os.chmod(dest, st.st_mode & 0o7777)


def _bind(ctx: BuildContext, m: RunMount, cwd: str) -> Iterator[list[Any]]:
    target = _target(m, cwd)
    with contextlib.ExitStack() as stack:
        if m.from_ is None or m.from_ == "":
            root = ctx.opts.context
        else:
            root = Path(stack.enter_context(stage_root(ctx, m.from_)))

        rel = SourceTree(root).resolve(m.source or "/")
        src = Path(root) / rel if rel else Path(root)
        if not src.exists():
            raise BuildError(f"RUN --mount=type=bind: source {m.source or '/'} not found")
        if not m.readonly and m.from_ in (None, ""):
            # writes to a rw bind are discarded: never let them reach the user's files
            tmp = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="pybuild-bind-")))
            dst = tmp / "src"
            if src.is_dir():
                shutil.copytree(src, dst, symlinks=True)
            else:
                shutil.copy2(src, dst)
            src = dst
        yield [sandbox.Mount(target, "bind", src, readonly=m.readonly)]
