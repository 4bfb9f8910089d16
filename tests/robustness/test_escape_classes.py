"""The known escape classes of runc, BuildKit and buildah, each tried as an attacker
would on the real sandbox, through `pybuild build` and `pybuild run`.

Every trial ends with the host checked from outside: a marker directory outside the
store and the context that the attack aims at must stay empty, host binaries keep
their content, and a refused attempt is one line without a traceback.
"""

from __future__ import annotations

import gzip
import hashlib
import io
import os
import re
import sys
import tarfile
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
import zstandard

from tests.robustness.conftest import pybuild


@pytest.fixture
def marker() -> Iterator[Path]:
    """A host directory the attacks aim at; it must stay empty."""
    d = Path("/tmp") / f"pybuild-escape-{uuid.uuid4().hex[:10]}"
    d.mkdir()
    yield d
    assert sorted(p.name for p in d.iterdir()) == [], "the host was touched"
    d.rmdir()


def _build(store: Path, ctx: Path, dockerfile: str, *flags: str, check: bool = True, **env: str):  # type: ignore[no-untyped-def]
    ctx.mkdir(exist_ok=True)
    (ctx / "Dockerfile").write_text(dockerfile)
    argv = ("build", "--progress", "plain", "--network", "none", *flags, str(ctx))
    return pybuild(store, *argv, check=check, **env)


def _one_line_failure(out) -> str:  # type: ignore[no-untyped-def]
    err = out.stderr.strip().splitlines()
    assert out.returncode == 1, out.stdout + out.stderr
    assert "Traceback" not in out.stderr
    return err[-1]


def _sha(path: str) -> str:
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


def test_cve_2024_21626_leaked_fds_lead_nowhere(build_store: Path, tmp_path: Path) -> None:
    """runc leaked a host directory fd: `WORKDIR /proc/self/fd/N` put the step's cwd on
    the host. Here no fd beyond stdio exists in the sandbox, so every such cwd fails
    (one line), and `cd` through any fd reaches nothing."""
    walk = (
        "for n in $(seq 3 20); do if cd /proc/self/fd/$n 2>/dev/null; then "
        "echo reached $n: $(ls ../../..); fi; done; echo walked"
    )
    out = _build(build_store, tmp_path / "c1", f"FROM busybox\nRUN {walk}\n")
    text = out.stderr + out.stdout
    assert re.search(r"^#2 [\d.]+ walked$", text, re.M) and not re.search(
        r"^#2 [\d.]+ reached", text, re.M
    )
    ran = pybuild(build_store, "run", "--network", "none", "busybox", "sh", "-c", walk)
    assert ran.stdout == "walked\n", ran.stdout
    for n in range(3, 21):
        out = _build(
            build_store,
            tmp_path / "c1",
            f"FROM busybox\nWORKDIR /proc/self/fd/{n}\nRUN ls ../../..\n",
            check=False,
        )
        assert "/fd/" in _one_line_failure(out)  # the cwd is refused, in one line
        out = pybuild(
            build_store,
            "run",
            "--network",
            "none",
            "-w",
            f"/proc/self/fd/{n}",
            "busybox",
            "ls",
            check=False,
        )
        assert out.returncode != 0 and "Traceback" not in out.stderr
        assert out.stdout == ""


def test_cve_2019_5736_no_host_binary_behind_proc_exe(build_store: Path, tmp_path: Path) -> None:
    """runc's own binary was reachable as /proc/PID/exe of the container's init. Here
    PID 1 is the command: every /proc/N/exe is a binary of the image."""
    host = {p: _sha(p) for p in {sys.executable, os.path.realpath(sys.executable)}}
    probe = (
        "for p in /proc/[0-9]*; do readlink $p/exe; "
        "(echo overwritten >> $p/exe) 2>/dev/null && echo wrote $p; done; true"
    )
    out = _build(build_store, tmp_path / "c2", f"FROM busybox\nRUN {probe}\n")
    text = out.stdout + out.stderr
    assert "python" not in text
    assert {p: _sha(p) for p in host} == host


def _image_tar(busybox_tar: Path, dest: Path, extra: list[tuple[tarfile.TarInfo, bytes]]) -> Path:
    """The busybox root with `extra` members replacing those of the same names."""
    names = {t.name.strip("/").removeprefix("./") for t, _ in extra}
    with tarfile.open(busybox_tar) as src, tarfile.open(dest, "w") as out:
        for m in src.getmembers():
            name = m.name.strip("/").removeprefix("./")
            if name in names or any(name.startswith(n + "/") for n in names):
                continue
            out.addfile(m, src.extractfile(m) if m.isfile() else None)
        for info, data in extra:
            out.addfile(info, io.BytesIO(data) if data else None)
    return dest


def _symlink(name: str, target: str) -> tuple[tarfile.TarInfo, bytes]:
    t = tarfile.TarInfo(name)
    t.type, t.linkname = tarfile.SYMTYPE, target
    return t, b""


def test_cve_2025_31133_dev_and_proc_symlinks_redirect_no_mount(
    build_store: Path, busybox_tar: Path, tmp_path: Path, marker: Path
) -> None:
    """runc followed a symlink the image put where it mounts (/dev/null, /proc): an
    image whose /dev, /proc and /etc/hosts point at a host directory gets its mounts
    inside its own root; the host directory is untouched."""
    tar = _image_tar(
        busybox_tar,
        tmp_path / "links.tar",
        [
            _symlink("dev", str(marker)),
            _symlink("proc", f"../../../../../..{marker}"),
            _symlink("etc/hosts", f"{marker}/hosts"),
        ],
    )
    pybuild(build_store, "import", str(tar), "links:1")
    probe = "ls /dev/null /proc/self/status && cat /proc/1/cmdline >/dev/null && echo mounted"
    out = _build(build_store, tmp_path / "c3", f"FROM links:1\nRUN {probe}\n", check=False)
    assert "Traceback" not in out.stderr
    out = pybuild(
        build_store, "run", "--network", "none", "links:1", "sh", "-c", probe, check=False
    )
    assert "Traceback" not in out.stderr
    assert not any(m.split()[4].startswith(str(marker)) for m in _mountinfo())


def _mountinfo() -> list[str]:
    return Path("/proc/self/mountinfo").read_text().splitlines()


def test_cve_2024_1753_bind_of_a_symlink_to_root_mounts_the_stage_root(
    build_store: Path, tmp_path: Path
) -> None:
    """buildah bound the host's / when a stage's bind source was a symlink to /."""
    host_only = Path("/") / f"pybuild-host-only-{uuid.uuid4().hex[:8]}"
    host_only.write_text("host\n")
    try:
        out = _build(
            build_store,
            tmp_path / "c4",
            "FROM busybox AS s\nRUN ln -s / /link && ln -s ../../../../.. /up\n"
            "FROM busybox\n"
            "RUN --mount=type=bind,from=s,source=link,target=/m ls /m > /seen-link\n"
            "RUN --mount=type=bind,from=s,source=up,target=/m ls /m > /seen-up\n"
            "RUN cat /seen-link /seen-up\n",
            check=False,
        )
        assert "Traceback" not in out.stderr
        assert host_only.name not in out.stdout + out.stderr
    finally:
        host_only.unlink()


@pytest.mark.parametrize("field", ["id", "source"])
def test_cve_2024_9675_cache_mount_paths_stay_under_the_cache_root(
    build_store: Path, tmp_path: Path, marker: Path, field: str
) -> None:
    """buildah's cache `id=` and `source=` with `../` left its cache directory."""
    escape = "../" * 12 + str(marker).lstrip("/")
    out = _build(
        build_store,
        tmp_path / "c5",
        f"FROM busybox\nRUN --mount=type=cache,{field}={escape},target=/c touch /c/pwned\n",
        check=False,
    )
    assert "Traceback" not in out.stderr


def _fifo(name: str) -> tuple[tarfile.TarInfo, bytes]:
    t = tarfile.TarInfo(name)
    t.type = tarfile.FIFOTYPE
    return t, b""


@pytest.mark.parametrize(
    "what",
    ["fifo", "dev-zero", "huge"],
)
def test_cve_2024_9676_a_hostile_passwd_is_a_bounded_one_line_error(
    build_store: Path, busybox_tar: Path, tmp_path: Path, what: str
) -> None:
    """buildah hung (or ran out of memory) reading an image's /etc/passwd that was a
    FIFO, /dev/zero or huge, for USER and COPY --chown by name. Here only a regular
    file is read, at most 4 MiB of it: the name is not found, as Docker says."""
    if what == "fifo":
        extra = [_fifo("etc/passwd"), _fifo("etc/group")]
    elif what == "dev-zero":
        extra = [_symlink("etc/passwd", "/dev/zero"), _symlink("etc/group", "/dev/zero")]
    else:
        t = tarfile.TarInfo("etc/passwd")
        body = b"x" * (64 << 20)
        t.size = len(body)
        extra = [(t, body)]
    tar = _image_tar(busybox_tar, tmp_path / f"{what}.tar", extra)
    pybuild(build_store, "import", str(tar), f"{what}:1")
    ctx = tmp_path / "c6"
    ctx.mkdir()
    (ctx / "f").write_text("x")
    for step in ("USER app\nRUN id", "COPY --chown=app f /f"):
        out = _build(build_store, ctx, f"FROM {what}:1\n{step}\n", check=False)
        line = _one_line_failure(out)
        assert "unable to find user app: no matching entries in passwd file" in line, line


def _everything_in(root: Path) -> bytes:
    """Every file under `root`, and the decompressed content of each compressed one."""
    out = []
    for p in root.rglob("*"):
        if not p.is_file() or p.is_symlink():
            continue
        data = p.read_bytes()
        out.append(data)
        if data[:2] == b"\x1f\x8b":
            out.append(gzip.decompress(data))
        elif data[:4] == b"\x28\xb5\x2f\xfd":
            out.append(zstandard.ZstdDecompressor().decompressobj().decompress(data))
    return b"\n".join(out)


def test_secrets_leave_no_trace(build_store: Path, tmp_path: Path, registry) -> None:  # type: ignore[no-untyped-def]
    """A secret from a file and one from the environment, mounted as a file and as an
    env variable: neither value is in any layer, the history, the config, the store's
    database, the registry cache the build exports, the build's output or `plan --json`."""
    from_file, from_env = f"file-{uuid.uuid4().hex}", f"env-{uuid.uuid4().hex}"
    src = tmp_path / "token"
    src.write_text(from_file)
    df = (
        "FROM busybox\n"
        "RUN --mount=type=secret,id=f cat /run/secrets/f | wc -c > /flen\n"
        "RUN --mount=type=secret,id=e,env=TOKEN sh -c 'echo ${#TOKEN} > /elen'\n"
        "RUN --mount=type=secret,id=e cat /run/secrets/e | wc -c > /elen2\n"
        'CMD ["cat", "/flen", "/elen", "/elen2"]\n'
    )
    cache = f"{registry.host}/escape/cache:{uuid.uuid4().hex[:8]}"
    built = _build(
        build_store,
        tmp_path / "c7",
        df,
        "-t",
        "sec:1",
        "--secret",
        f"id=f,src={src}",
        "--secret",
        "id=e,env=PYBUILD_TRIAL_SECRET",
        "--cache-to",
        f"type=registry,ref={cache},mode=max",
        PYBUILD_TRIAL_SECRET=from_env,
    )
    ran = pybuild(build_store, "run", "--network", "none", "sec:1")
    assert ran.stdout.split() == [str(len(from_file)), str(len(from_env)), str(len(from_env))]
    history = pybuild(build_store, "history", "--no-trunc", "--json", "sec:1")
    plan = pybuild(
        build_store, "plan", "--json", str(tmp_path / "c7"), PYBUILD_TRIAL_SECRET=from_env
    )
    seen = b"\n".join(
        [
            _everything_in(build_store),
            _everything_in(registry.workdir),
            (built.stdout + built.stderr + history.stdout + plan.stdout).encode(),
        ]
    )
    assert from_file.encode() not in seen and from_env.encode() not in seen


def test_cve_2024_23651_a_cache_raced_by_a_parallel_step_stays_inside(
    build_store: Path, tmp_path: Path, marker: Path
) -> None:
    """BuildKit resolved a cache mount's `source=` subpath, then mounted it: a parallel
    step sharing the cache swapped the subpath for a symlink to a host path in between.
    Here two stages run side by side on one cache, one swapping `sub` between a
    directory and a symlink to the host directory, the other mounting `source=sub`."""
    swap = (
        "for i in $(seq 300); do rm -rf /c/sub; ln -s " + str(marker) + " /c/sub; "
        "rm /c/sub; mkdir /c/sub; done; echo a > /a"
    )
    write = "for i in $(seq 100); do touch /c/pwned-$i 2>/dev/null; done; echo b > /b"
    out = _build(
        build_store,
        tmp_path / "c8",
        "FROM busybox AS a\n"
        f"RUN --mount=type=cache,id=shared,target=/c sh -c '{swap}'\n"
        "FROM busybox AS b\n"
        f"RUN --mount=type=cache,id=shared,source=sub,target=/c sh -c '{write}'\n"
        "FROM busybox\nCOPY --from=a /a /a\nCOPY --from=b /b /b\n",
        check=False,
    )
    assert "Traceback" not in out.stderr
    assert not list(Path("/").glob("pwned-*"))


def test_cve_2024_23652_mount_stubs_are_never_cleaned_through_a_symlink(
    build_store: Path, tmp_path: Path, marker: Path
) -> None:
    """BuildKit removed the mount points it had created after a step, through parents
    the step had swapped for symlinks to host paths. Here the step moves the parent of
    its mount point away and puts a symlink to the host directory in its place; the
    mount points are only left out of the layer, and nothing on the host is removed."""
    keep = marker / "keep"
    keep.write_text("host file\n")
    try:
        out = _build(
            build_store,
            tmp_path / "c9",
            "FROM busybox\n"
            "RUN --mount=type=tmpfs,target=/stub/deep/m sh -c "
            f"'mv /stub /stub.old 2>/dev/null; ln -sfn {marker} /stub; ls /stub.old'\n",
            "-t",
            "stub:1",
            check=False,
        )
        assert "Traceback" not in out.stderr
        assert keep.read_text() == "host file\n"
        assert sorted(p.name for p in marker.iterdir()) == ["keep"]
    finally:
        keep.unlink()
