"""Hostile build contexts through `pybuild build`, end to end.

None leaks host content (every blob in the store is searched for it), none hangs (each
build runs under a timeout), and each gives a clear one-line error or BuildKit's
documented behaviour:
- symlinks are copied as symlinks and never followed out of the context; a symlink
  named as a COPY source resolves inside the context (BuildKit's scoped resolution);
- a symlink loop named as a source is a one-line error; inside `COPY .` it is copied
  as the links it is;
- a FIFO is copied as a FIFO (never opened for reading), a socket is skipped;
- an unreadable file fails the COPY with a one-line permission error naming it;
- 200,000 small files copy, and the no-op rebuild is all cache hits;
- a file that changes while it is hashed never poisons the cache: once it stops
  changing, a rebuild holds its final content.
"""

from __future__ import annotations

import gzip
import hashlib
import os
import socket
import subprocess
import threading
import time
from pathlib import Path

import pytest

from tests.robustness.conftest import pybuild
from tests.robustness.helpers import assert_store_valid

MARKER = b"HOST-SECRET-9f1c2e-NEVER-IN-AN-IMAGE"
TIMEOUT = 120


def _blob_bytes(root: Path) -> list[bytes]:
    out = []
    for p in (root / "blobs" / "sha256").iterdir():
        data = p.read_bytes()
        if data[:2] == b"\x1f\x8b":
            data = gzip.decompress(data)
        elif data[:4] == b"\x28\xb5\x2f\xfd":
            import zstandard

            data = zstandard.ZstdDecompressor().decompressobj().decompress(data)
        out.append(data)
    return out


def _assert_no_leak(root: Path, *needles: bytes) -> None:
    for data in _blob_bytes(root):
        for n in needles:
            assert n not in data, "host content leaked into a blob"


def _shadow_needle() -> bytes:
    try:
        first = Path("/etc/shadow").read_bytes().split(b"\n")[0]
    except OSError:
        return MARKER
    return first if len(first) > 8 else MARKER


def _build(root: Path, ctx: Path, dockerfile: str, tag: str = "h:1", check: bool = False):
    (ctx / "Dockerfile").write_text(dockerfile)
    return pybuild(
        root,
        "build",
        "--progress",
        "plain",
        "--network",
        "none",
        "-t",
        tag,
        str(ctx),
        timeout=TIMEOUT,
        check=check,
    )


def _one_line_error(out: subprocess.CompletedProcess[str]) -> str:
    assert out.returncode == 1, out.stdout + out.stderr
    assert "Traceback" not in out.stderr and "internal error" not in out.stderr, out.stderr
    return out.stderr.strip().splitlines()[-1]


@pytest.fixture
def host_secret(tmp_path: Path) -> Path:
    p = tmp_path / "host" / "secret"
    p.parent.mkdir()
    p.write_bytes(MARKER)
    p.chmod(0o600)
    return p


@pytest.fixture
def ctx(tmp_path: Path) -> Path:
    d = tmp_path / "ctx"
    d.mkdir()
    (d / "ok").write_text("ok\n")
    return d


def test_symlink_to_etc_shadow(build_store: Path, ctx: Path, host_secret: Path) -> None:
    (ctx / "shadow").symlink_to("/etc/shadow")
    (ctx / "secret").symlink_to(host_secret)
    (ctx / "up").symlink_to("../host/secret")
    out = _build(
        build_store,
        ctx,
        "FROM busybox\nCOPY . /ctx\n"
        "RUN test -L /ctx/shadow && test -L /ctx/secret && ! cat /ctx/shadow\n",
    )
    assert out.returncode == 0, out.stdout + out.stderr
    # Named as a source, the link resolves inside the context: /etc/shadow is not there.
    err = _one_line_error(_build(build_store, ctx, "FROM busybox\nCOPY shadow /x\n", "h:2"))
    assert "shadow" in err and "not found" in err, err
    err = _one_line_error(_build(build_store, ctx, "FROM busybox\nCOPY up /x\n", "h:3"))
    assert "not found" in err, err
    _assert_no_leak(build_store, MARKER, _shadow_needle())
    assert_store_valid(build_store)


def test_symlink_loops(build_store: Path, ctx: Path) -> None:
    (ctx / "a").symlink_to("b")
    (ctx / "b").symlink_to("a")
    (ctx / "self").symlink_to("self")
    (ctx / "dir").mkdir()
    (ctx / "dir" / "up").symlink_to("..")
    out = _build(
        build_store, ctx, "FROM busybox\nCOPY . /ctx\nRUN test -L /ctx/a && test -L /ctx/self\n"
    )
    assert out.returncode == 0, out.stdout + out.stderr
    for src in ("a", "self", "dir/up/dir/up/a"):
        err = _one_line_error(_build(build_store, ctx, f"FROM busybox\nCOPY {src} /x\n", "h:2"))
        assert "symbolic links" in err or "not found" in err or "loop" in err, err


def test_fifo_and_socket(build_store: Path, ctx: Path) -> None:
    os.mkfifo(ctx / "fifo")  # nobody ever writes: opening it for reading would hang
    sock = socket.socket(socket.AF_UNIX)
    sock.bind(str(ctx / "sock"))
    try:
        out = _build(
            build_store,
            ctx,
            "FROM busybox\nCOPY . /ctx\n"
            "RUN test -p /ctx/fifo && ! test -e /ctx/sock && cat /ctx/ok\n",
        )
    finally:
        sock.close()
    assert out.returncode == 0, out.stdout + out.stderr


def test_unreadable_file(build_store: Path, ctx: Path) -> None:
    # Root reads any mode-000 file, so use one the kernel refuses even to root.
    f = ctx / "unreadable"
    f.touch()
    subprocess.run(["mount", "--bind", "/proc/sys/vm/drop_caches", str(f)], check=True)
    try:
        with pytest.raises(PermissionError):
            f.read_bytes()
        err = _one_line_error(_build(build_store, ctx, "FROM busybox\nCOPY . /ctx\n"))
        assert "unreadable" in err and "ermission denied" in err, err
    finally:
        subprocess.run(["umount", str(f)], check=True)
    assert_store_valid(build_store)


def test_200k_small_files(small_mount, busybox_image, tmp_path: Path) -> None:
    fs = small_mount("3g")
    root = fs / "store"
    busybox_image.load(root)
    ctx = fs / "ctx"
    for i in range(200):
        d = ctx / f"d{i:03}"
        d.mkdir(parents=True)
        for j in range(1000):
            fd = os.open(d / f"f{j}", os.O_WRONLY | os.O_CREAT, 0o644)
            os.write(fd, b"%d/%d" % (i, j))
            os.close(fd)
    df = "FROM busybox\nCOPY . /ctx\nRUN find /ctx -type f | wc -l > /n\n"
    t0 = time.monotonic()
    out = _build(root, ctx, df, check=True)
    cold = time.monotonic() - t0
    t0 = time.monotonic()
    out = _build(root, ctx, df, check=True)
    warm = time.monotonic() - t0
    assert "#2 CACHED" in out.stdout + out.stderr and "#3 CACHED" in out.stdout + out.stderr
    run = pybuild(root, "run", "--rm", "--network", "none", "h:1", "cat", "/n")
    assert run.stdout.strip() == "200001"  # + the Dockerfile
    print(f"200k files: cold {cold:.1f}s, no-op rebuild {warm:.1f}s")


def test_file_changing_while_hashed(build_store: Path, ctx: Path) -> None:
    f = ctx / "moving"
    stop = threading.Event()

    def writer() -> None:
        n = 0
        while not stop.is_set():
            n += 1
            data = bytes([65 + n % 26]) * (1 << 20) * (1 + n % 3)
            with open(f, "wb") as fh:  # rewritten in place: readers can see it torn
                fh.write(data)
            time.sleep(0.001)

    f.write_bytes(b"A" * (1 << 20))
    t = threading.Thread(target=writer, daemon=True)
    t.start()
    try:
        for i in range(3):
            out = _build(build_store, ctx, "FROM busybox\nCOPY moving /moving\n", f"m:{i}")
            if out.returncode != 0:
                _one_line_error(out)  # a clear error is acceptable; a crash or hang is not
    finally:
        stop.set()
        t.join()
    final = b"Z" * 12345
    f.write_bytes(final)
    os.utime(f, (time.time() - 10, time.time() - 10))
    _build(build_store, ctx, "FROM busybox\nCOPY moving /moving\n", "m:final", check=True)
    run = pybuild(build_store, "run", "--rm", "--network", "none", "m:final", "md5sum", "/moving")
    assert run.stdout.split()[0] == hashlib.md5(final).hexdigest()
    assert_store_valid(build_store)
