"""The escape trials of tests/robustness/test_escape_classes.py, side by side with
BuildKit (a private dockerd's `docker build`) where it runs here: what the step sees
is the same in both, and what BuildKit refuses pybuild refuses.

The trials that would hang or harm the host under a vulnerable runtime (a FIFO as
/etc/passwd, a cache raced towards a host path) run against pybuild only."""

from __future__ import annotations

from pathlib import Path

import pytest

from builder.errors import BuildError
from tests.fixtures.build import run_build
from tests.interop.buildkit.conftest import load_base

pytestmark = [pytest.mark.interop, pytest.mark.root]

# name -> Dockerfile whose final stage holds /out: what the step could see
SEEN = {
    # runc CVE-2019-5736: PID 1's binary and command line are the image's, in both
    "proc-1": "FROM busybox\n"
    "RUN readlink /proc/1/exe > /out && tr '\\0' ' ' < /proc/1/cmdline >> /out\n",
    # buildah CVE-2024-1753: a bind source that is a symlink to / is the stage's root
    "bind-symlink-to-root": "FROM busybox AS s\nRUN ln -s / /link && echo stage > /mark\n"
    "FROM busybox\n"
    "RUN --mount=type=bind,from=s,source=link,target=/m ls /m > /out && cat /m/mark >> /out\n",
    # runc CVE-2024-21626: no fd beyond stdio to walk through
    # buildah CVE-2024-9675: a cache id is a name, never a path out of the cache root
    "cache-id-climbing-out": "FROM busybox\n"
    "RUN --mount=type=cache,id=../../../../../../tmp/pb-escape,target=/c "
    "touch /c/f && ls /c > /out\n",
    "fds": "FROM busybox\n"
    "RUN for n in $(seq 3 20); do cd /proc/self/fd/$n 2>/dev/null && echo $n; done > /out; "
    "echo done >> /out\n",
}
# name -> Dockerfile both must refuse
REFUSED = {
    "workdir-through-a-leaked-fd": "FROM busybox\nWORKDIR /proc/self/fd/7\nRUN ls ../../..\n",
    # buildah CVE-2024-9676: a passwd that is a symlink to a device names no user
    "passwd-is-dev-zero": "FROM busybox\nRUN ln -sf /dev/zero /etc/passwd\nUSER app\nRUN id\n",
}


def _setup(tmp_path: Path, df: str, busybox) -> tuple[Path, Path]:  # type: ignore[no-untyped-def]
    """A context holding `df`, and a store with the busybox BuildKit has too."""
    ctx = tmp_path / "ctx"
    ctx.mkdir(exist_ok=True)
    (ctx / "Dockerfile").write_text(df)
    root = tmp_path / "store"
    load_base(busybox, root)
    return ctx, root


@pytest.mark.parametrize("name", sorted(SEEN))
def test_the_step_sees_what_buildkit_s_step_sees(dockerd, docker_busybox, tmp_path, name):  # type: ignore[no-untyped-def]
    df = SEEN[name]
    ctx, root = _setup(tmp_path, df, docker_busybox)
    ours, theirs = tmp_path / "pb", tmp_path / "bk"
    run_build(root, ctx, df, network="none", outputs=[{"type": "local", "dest": str(ours)}])
    dockerd.docker("build", "--network=none", "-o", f"type=local,dest={theirs}", str(ctx))
    assert (ours / "out").read_text() == (theirs / "out").read_text()


@pytest.mark.parametrize("name", sorted(REFUSED))
def test_what_buildkit_refuses_is_refused(dockerd, docker_busybox, tmp_path, name):  # type: ignore[no-untyped-def]
    df = REFUSED[name]
    ctx, root = _setup(tmp_path, df, docker_busybox)
    theirs = dockerd.docker("build", "--network=none", str(ctx), check=False)
    assert theirs.returncode != 0
    with pytest.raises(BuildError) as ours:
        run_build(root, ctx, df, network="none")
    assert "\n" not in str(ours.value)
