"""Rootless end to end: a non-root user imports the busybox base, builds a Dockerfile
with RUN steps (a whiteout, an opaque dir, USER app), runs the image and checks the
store, all through the real `pybuild` CLI in its own user namespace. The layers hold
root-owned files (1000 where USER app made them), whatever the user's host uid."""

from __future__ import annotations

import os
import shutil
import stat
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.integration.rootless.helpers import (
    WITH_SUBIDS,
    WITHOUT_SUBIDS,
    User,
    ensure_user,
    give,
    image_layers,
    layer_digests,
    make_home,
    python_for,
)

DOCKERFILE = """\
FROM busybox
RUN echo made > /made && mkdir -p /opq/sub && touch /opq/a /opq/sub/b && rm /etc/group
RUN rm -rf /opq && mkdir /opq && echo new > /opq/c && chown 1000:1000 /opq/c
COPY hello.txt /hello.txt
COPY --chown=app hello.txt /home/app/
USER app
RUN echo mine > /tmp/appfile && id -u > /tmp/id
CMD ["sh", "-c", "id -u; cat /made /tmp/appfile /opq/c; ls /opq; test -e /etc/group || echo no-group"]
"""


@pytest.fixture(scope="module")
def base() -> Iterator[Path]:
    d = Path(tempfile.mkdtemp(prefix="pybuild-rootless-"))
    d.chmod(0o755)
    try:
        yield d
    finally:
        shutil.rmtree(d, ignore_errors=True)


@pytest.fixture(scope="module")
def rootfs(base: Path, busybox_tar: Path) -> Path:
    out = base / "rootfs.tar"
    shutil.copyfile(busybox_tar, out)
    out.chmod(0o644)  # the user imports it
    return out


@pytest.fixture(scope="module")
def user(base: Path) -> User:
    pw = ensure_user(WITH_SUBIDS, subids=True)
    return User(pw, make_home(base, pw), python_for(pw))


@pytest.fixture(scope="module")
def built(user: User, rootfs: Path) -> tuple[User, Path]:
    """busybox imported and DOCKERFILE built as `user`, in the default store location."""
    ctx = user.home / "ctx"
    ctx.mkdir()
    (ctx / "Dockerfile").write_text(DOCKERFILE)
    (ctx / "hello.txt").write_text("hello\n")
    give(ctx, user.pw)  # owned by the user's host uid: COPY makes them 0:0 all the same
    res = user.pybuild("import", str(rootfs), "busybox:latest")
    assert res.returncode == 0, res.stderr
    res = user.pybuild("build", "-t", "app:1", "--progress", "plain", "--network", "none", str(ctx))
    assert res.returncode == 0, res.stderr
    assert "[6/6] RUN echo mine" in res.stderr and "DONE" in res.stderr
    return user, user.home / "xdg" / "pybuild"


def test_default_store_is_xdg_data_home(built: tuple[User, Path]) -> None:
    user, root = built
    assert (root / "oci-layout").is_file() and (root / "index.json").is_file()
    st = os.stat(root / "meta.db")
    assert (st.st_uid, st.st_gid) == (user.pw.pw_uid, user.pw.pw_gid)
    assert not os.path.exists(user.home / "var")  # nothing went to root's default


def test_layers_are_owned_by_root_with_whiteouts(built: tuple[User, Path]) -> None:
    user, root = built
    layers = image_layers(root, "app:1")
    assert len(layers) == 6
    base_l, run1, run2, copy1, copy2, run3 = ({m.name.rstrip("/"): m for m in layer}
                                              for layer in layers)
    assert (copy1["hello.txt"].uid, copy1["hello.txt"].gid) == (0, 0)
    assert (copy2["home/app/hello.txt"].uid, copy2["home/app/hello.txt"].gid) == (1000, 1000)
    assert base_l["bin/busybox"].uid == 0 and base_l["home/app"].uid == 1000
    assert run1["made"].uid == 0 and run1["made"].gid == 0 and run1["made"].isfile()
    assert run1["opq/sub/b"].uid == 0
    assert "etc/.wh.group" in run1 and run1["etc/.wh.group"].size == 0  # RUN rm -> whiteout
    assert "etc/group" not in run1
    assert "opq/.wh..wh..opq" in run2 and "opq/a" not in run2 and "opq/sub" not in run2
    assert (run2["opq/c"].uid, run2["opq/c"].gid) == (1000, 1000)
    assert (run3["tmp/appfile"].uid, run3["tmp/appfile"].gid) == (1000, 1000)
    for layer in (run1, run2, copy1, copy2, run3):  # never the user's host ids, never overlay's xattrs
        for m in layer.values():
            assert m.uid in (0, 1000) and m.gid in (0, 1000), m.name
            assert not any("overlay." in k for k in m.pax_headers), m.name
            assert not m.ischr()


def test_snapshots_use_user_xattrs_and_subordinate_ids(built: tuple[User, Path]) -> None:
    user, root = built
    from tests.integration.rootless.helpers import subid_start

    sub = subid_start(user.pw.pw_name)
    assert sub is not None
    snaps = root / "snapshots"
    opaque = [p for p in snaps.glob("*/diff/opq") if _xattr(p, "user.overlay.opaque") == b"y"]
    assert opaque and not any(_xattr(p, "trusted.overlay.opaque") for p in opaque)
    wh = [p for p in snaps.glob("*/diff/etc/group") if stat.S_ISCHR(os.lstat(p).st_mode)]
    assert wh and os.lstat(wh[0]).st_rdev == 0
    # inside uid 0 is the user, inside 1000 is subordinate id sub + 999 on the host
    assert os.stat(opaque[0] / "c").st_uid == sub + 999
    homes = list(snaps.glob("*/diff/home/app"))
    assert homes and os.stat(homes[0]).st_uid == sub + 999
    assert os.stat(next(snaps.glob("*/diff/made"))).st_uid == user.pw.pw_uid


def test_run_as_the_user(built: tuple[User, Path]) -> None:
    user, _ = built
    res = user.pybuild("run", "--network", "none", "app:1")
    assert res.returncode == 0, res.stderr
    assert res.stdout.split() == ["1000", "made", "mine", "new", "c", "no-group"]
    res = user.pybuild("run", "--network", "host", "--user", "0", "app:1", "sh", "-c",
                       "id -u; cat /tmp/id; touch /root/x && echo root-can-write")
    assert res.returncode == 0, res.stderr
    assert res.stdout.split() == ["0", "1000", "root-can-write"]
    res = user.pybuild("run", "--network", "none", "app:1", "sh", "-c", "exit 7")
    assert res.returncode == 7


def test_fsck_images_and_cache_as_the_user(built: tuple[User, Path]) -> None:
    user, root = built
    res = user.pybuild("fsck")
    assert res.returncode == 0 and "clean" in res.stdout, res.stdout + res.stderr
    res = user.pybuild("images")
    assert res.returncode == 0 and "app" in res.stdout
    ctx = user.home / "ctx"
    res = user.pybuild("build", "-q", "-t", "app:2", "--network", "none", str(ctx))
    assert res.returncode == 0, res.stderr
    assert layer_digests(root, "app:2") == layer_digests(root, "app:1")  # all cached


def test_no_mounts_left_on_the_host(built: tuple[User, Path]) -> None:
    _, root = built
    with open("/proc/self/mountinfo") as f:
        assert str(root) not in f.read()


def test_limits_and_network_rootless(built: tuple[User, Path]) -> None:
    user, _ = built
    res = user.pybuild("run", "--memory", "64m", "--network", "none", "app:1", "true")
    assert res.returncode != 0
    err = res.stderr.strip()
    assert "cgroup" in err and "\n" not in err and "Traceback" not in err
    res = user.pybuild("run", "--network", "default", "--user", "0", "app:1", "sh", "-c",
                       "ip -o addr show tap0")
    ctx = user.home / "ctx-net"
    ctx.mkdir()
    (ctx / "Dockerfile").write_text("FROM busybox\nRUN ip -o addr show tap0 > /net\n")
    give(ctx, user.pw)
    built_net = user.pybuild("build", "-q", "-t", "net:1", str(ctx))  # --network default
    if os.stat("/dev/net/tun").st_mode & 0o006 == 0o006:
        assert res.returncode == 0 and "10.0.2.100" in res.stdout, res.stderr
        assert built_net.returncode == 0, built_net.stderr
        res = user.pybuild("run", "--network", "none", "net:1", "cat", "/net")
        assert "10.0.2.100" in res.stdout, res.stderr
    else:
        assert "chmod 0666 /dev/net/tun" in res.stderr
        assert "chmod 0666 /dev/net/tun" in built_net.stderr


def test_without_subordinate_ids(base: Path, rootfs: Path, busybox_tar: Path) -> None:
    """A single mapping: root-owned bases build; a base with uid 1000 files, or USER
    app, fails in one line naming /etc/subuid."""
    pw = ensure_user(WITHOUT_SUBIDS, subids=False)
    home = make_home(base, pw)
    store = home / "store"
    u = User(pw, home, python_for(pw), (("PYBUILD_ROOT", str(store)),))
    assert u.pybuild("import", str(rootfs), "busybox:latest").returncode == 0
    ctx = home / "ctx"
    ctx.mkdir()
    (ctx / "Dockerfile").write_text("FROM busybox\nRUN echo hi > /x\n")
    give(ctx, pw)
    res = u.pybuild("build", "-q", "-t", "x:1", "--network", "none", str(ctx))
    assert res.returncode == 1
    err = res.stderr.strip()
    assert "not mapped" in err and "/etc/subuid" in err and "\n" not in err, err
    # a base whose files all belong to root works with the single mapping
    root_only = home / "rootonly.tar"
    _chown_tar(busybox_tar, root_only)
    give(root_only, pw)
    assert u.pybuild("import", str(root_only), "rootbox:latest").returncode == 0
    (ctx / "Dockerfile").write_text("FROM rootbox\nRUN echo hi > /x && rm /etc/passwd.gone 2>/dev/null; "
                                    "rm -f /bin/vi\nCMD [\"cat\", \"/x\"]\n")
    res = u.pybuild("build", "-q", "-t", "x:1", "--network", "none", str(ctx))
    assert res.returncode == 0, res.stderr
    layers = image_layers(store, "x:1")
    run = {m.name: m for m in layers[-1]}
    assert run["x"].uid == 0 and "bin/.wh.vi" in run
    res = u.pybuild("run", "--network", "none", "x:1")
    assert res.returncode == 0 and res.stdout == "hi\n", res.stderr
    (ctx / "Dockerfile").write_text("FROM rootbox\nUSER app\nRUN id\n")
    res = u.pybuild("build", "-q", "--network", "none", str(ctx))
    assert res.returncode == 1
    err = res.stderr.strip()
    assert "not mapped in the user namespace" in err and "/etc/subuid" in err, err
    (ctx / "f").write_text("x")
    give(ctx, pw)
    (ctx / "Dockerfile").write_text("FROM rootbox\nCOPY --chown=1000:1000 f /f\n")
    res = u.pybuild("build", "-q", "--network", "none", str(ctx))
    assert res.returncode == 1
    err = res.stderr.strip()
    assert "--chown 1000:1000 is not mapped" in err and "\n" not in err, err
    assert u.pybuild("fsck").returncode == 0


def test_root_made_store_is_refused(base: Path, user: User, busybox_tar: Path) -> None:
    """Snapshots root made carry trusted.* xattrs that a rootless overlay ignores: the
    user gets a clear error rather than silently wrong mounts."""
    from store.image import resolve_image
    from store.layout import open_store
    from tests.fixtures.build import BusyboxImage

    root = base / "root-made"
    BusyboxImage(busybox_tar).load(root)
    s = open_store(root)
    im = resolve_image(s, "busybox:latest")
    s.snapshots.ensure_layers([la.descriptor for la in im.layers()],
                              [la.diff_id for la in im.layers()])
    assert s.snapshots.list()
    s.close()
    give(root, user.pw)
    u = User(user.pw, user.home, user.python, (("PYBUILD_ROOT", str(root)),))
    res = u.pybuild("run", "--network", "none", "busybox:latest", "true")
    assert res.returncode == 1
    err = res.stderr.strip()
    assert "made by root" in err and "trusted.overlay.opaque" in err and "\n" not in err, err


def _xattr(p: Path, name: str) -> bytes | None:
    try:
        return os.getxattr(p, name, follow_symlinks=False)
    except OSError:
        return None


def _chown_tar(src: Path, dst: Path) -> None:
    import tarfile

    with tarfile.open(src) as tin, tarfile.open(dst, "w", format=tarfile.PAX_FORMAT) as tout:
        for m in tin.getmembers():
            m.uid = m.gid = 0
            tout.addfile(m, tin.extractfile(m) if m.isfile() else None)


def test_load_unpacks_whiteouts_in_the_namespace(built: tuple[User, Path]) -> None:
    """A saved image loaded into a fresh store: unpack itself makes the 0/0 whiteout
    device (allowed to uid 0 of a user namespace) and the user.overlay opaque xattr."""
    user, _ = built
    archive = user.home / "app.tar"
    assert user.pybuild("save", "app:1", "-o", str(archive)).returncode == 0
    other = User(user.pw, user.home, user.python, (("PYBUILD_ROOT", str(user.home / "s2")),))
    res = other.pybuild("load", "-i", str(archive))
    assert res.returncode == 0, res.stderr
    res = other.pybuild("run", "--network", "none", "app:1")
    assert res.returncode == 0, res.stderr
    assert res.stdout.split() == ["1000", "made", "mine", "new", "c", "no-group"]
    # a build keeps its base's snapshots (run drops them): look at what unpack made
    ctx = user.home / "ctx2"
    ctx.mkdir()
    (ctx / "Dockerfile").write_text("FROM app:1\nRUN ls /opq > /tmp/ls\n")
    give(ctx, user.pw)
    res = other.pybuild("build", "-q", "--network", "none", str(ctx))
    assert res.returncode == 0, res.stderr
    snaps = user.home / "s2" / "snapshots"
    wh = [p for p in snaps.glob("*/diff/etc/group") if stat.S_ISCHR(os.lstat(p).st_mode)]
    assert wh and os.lstat(wh[0]).st_rdev == 0
    assert any(_xattr(p, "user.overlay.opaque") == b"y" for p in snaps.glob("*/diff/opq"))


def test_rmi_and_prune_remove_snapshots(built: tuple[User, Path]) -> None:
    """Snapshots hold files of subordinate ids, which only the namespace can delete."""
    user, _ = built
    other = User(user.pw, user.home, user.python, (("PYBUILD_ROOT", str(user.home / "s3")),))
    ctx = user.home / "ctx"
    assert other.pybuild("import", str(user.home.parent / "rootfs.tar"), "busybox:latest").returncode == 0
    res = other.pybuild("build", "-q", "-t", "gone:1", "--network", "none", str(ctx))
    assert res.returncode == 0, res.stderr
    snaps = user.home / "s3" / "snapshots"
    assert list(snaps.glob("*/diff/home/app"))
    assert other.pybuild("rmi", "gone:1", "busybox:latest").returncode == 0
    res = other.pybuild("prune", "--all")
    assert res.returncode == 0, res.stderr
    assert not list(snaps.glob("*/diff")), sorted(os.listdir(snaps))
    assert other.pybuild("fsck").returncode == 0


def test_killed_build_leaves_nothing_mounted(built: tuple[User, Path]) -> None:
    """Mounts live in the build's own mount namespace: SIGKILL takes them all, and the
    next command clears the snapshot dirs (files of subordinate ids included)."""
    import signal
    import subprocess
    import time

    from tests.integration.rootless.helpers import LAUNCH, PATH

    user, _ = built
    root = user.home / "s4"
    other = User(user.pw, user.home, user.python, (("PYBUILD_ROOT", str(root)),))
    assert other.pybuild("import", str(user.home.parent / "rootfs.tar"), "busybox:latest").returncode == 0
    ctx = user.home / "ctx-kill"
    ctx.mkdir()
    (ctx / "Dockerfile").write_text("FROM busybox\nRUN touch /home/app/x && sleep 60\n")
    give(ctx, user.pw)
    env = {"PATH": PATH, "HOME": str(user.home), "PYBUILD_ROOT": str(root)}
    proc = subprocess.Popen([user.python, "-c", LAUNCH, "build", "-q", "--network", "none", str(ctx)],
                            user=user.pw.pw_uid, group=user.pw.pw_gid, extra_groups=[], env=env,
                            cwd=str(user.home), start_new_session=True,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 20
        while not list((root / "snapshots").glob("a*/diff/home/app/x")):
            assert time.monotonic() < deadline and proc.poll() is None
            time.sleep(0.05)
    finally:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()
    with open("/proc/self/mountinfo") as f:
        assert str(root) not in f.read()
    res = other.pybuild("fsck")
    assert res.returncode == 0, res.stdout + res.stderr
    assert not list((root / "snapshots").glob("a*")), os.listdir(root / "snapshots")


def test_push_and_pull_as_the_user(built: tuple[User, Path], registry) -> None:  # noqa: ANN001
    """push reads blobs outside the namespace; pull (inside it) keeps the host network."""
    from tests.fixtures.registry import unique_repo

    user, _ = built
    ref = f"{registry.host}/{unique_repo('rootless')}:1"
    res = user.pybuild("push", "app:1", ref)
    assert res.returncode == 0, res.stderr
    other = User(user.pw, user.home, user.python, (("PYBUILD_ROOT", str(user.home / "s5")),))
    res = other.pybuild("pull", ref)
    assert res.returncode == 0, res.stderr
    res = other.pybuild("run", "--network", "none", ref)
    assert res.returncode == 0, res.stderr
    assert res.stdout.split() == ["1000", "made", "mine", "new", "c", "no-group"]


def test_concurrent_rootless_builds(built: tuple[User, Path]) -> None:
    """Each pybuild has its own namespaces; two on one store both finish, fsck clean."""
    from concurrent.futures import ThreadPoolExecutor

    user, root = built
    ctxs = []
    for i in range(2):
        ctx = user.home / f"ctx-par{i}"
        ctx.mkdir()
        (ctx / "Dockerfile").write_text(f"FROM busybox\nRUN echo {i} > /n && sleep 0.3\n")
        give(ctx, user.pw)
        ctxs.append(ctx)
    with ThreadPoolExecutor(2) as ex:
        results = list(ex.map(lambda i: user.pybuild("build", "-q", "-t", f"par:{i}", "--network",
                                                     "none", str(ctxs[i])), range(2)))
    for res in results:
        assert res.returncode == 0, res.stderr
    for i in range(2):
        res = user.pybuild("run", "--network", "none", f"par:{i}", "cat", "/n")
        assert res.stdout == f"{i}\n", res.stderr
    assert user.pybuild("fsck").returncode == 0


def test_empty_root_store_switches_to_the_rootless_form(base: Path, user: User,
                                                        busybox_tar: Path) -> None:
    """A store root made but with no snapshots yet takes the user's xattr form."""
    import sqlite3

    from store.layout import open_store
    from tests.fixtures.build import BusyboxImage

    root = base / "root-empty"
    BusyboxImage(busybox_tar).load(root)
    s = open_store(root)
    assert s.snapshots.fmt.xattr_prefix == "trusted.overlay."  # recorded as root's
    s.close()
    give(root, user.pw)
    u = User(user.pw, user.home, user.python, (("PYBUILD_ROOT", str(root)),))
    res = u.pybuild("run", "--network", "none", "busybox:latest", "echo", "ok")
    assert res.returncode == 0 and res.stdout == "ok\n", res.stderr
    with sqlite3.connect(f"file:{root / 'meta.db'}?mode=ro", uri=True) as conn:
        row = conn.execute("SELECT xattr_prefix FROM snapshot_format").fetchone()
    assert row == ("user.overlay.",)


FEATURES = """\
FROM busybox AS a
RUN mkdir /out && echo x > /out/f && chown 1000:1000 /out/f
FROM busybox
COPY --from=a /out/f /f
RUN --mount=type=cache,target=/cache,uid=1000 stat -c %u /cache > /cache-owner
RUN --mount=type=secret,id=s cat /run/secrets/s > /got
RUN --mount=type=bind,from=a,source=/out,target=/o cat /o/f > /o2
RUN --mount=type=tmpfs,target=/t touch /t/x && ls /t > /t-list
ADD arch.tar /arch/
"""


def test_build_features_rootless(built: tuple[User, Path]) -> None:
    """Multi-stage COPY --from, RUN --mount cache/secret/bind/tmpfs and ADD of a tar
    with uid 1000 members, all in the user namespace."""
    import io
    import tarfile

    user, root = built
    ctx = user.home / "ctx-features"
    ctx.mkdir()
    (ctx / "Dockerfile").write_text(FEATURES)
    (ctx / "s.txt").write_text("secretval\n")
    with tarfile.open(ctx / "arch.tar", "w") as tf:
        ti = tarfile.TarInfo("d/a")
        ti.size, ti.uid, ti.gid = 2, 1000, 1000
        tf.addfile(ti, io.BytesIO(b"a\n"))
    give(ctx, user.pw)
    res = user.pybuild("build", "-q", "-t", "feat:1", "--network", "none",
                       "--secret", f"id=s,src={ctx / 's.txt'}", str(ctx))
    assert res.returncode == 0, res.stderr
    res = user.pybuild("run", "--network", "none", "feat:1", "sh", "-c",
                       "stat -c %u:%g /f /arch/d/a; cat /cache-owner /got /o2 /t-list")
    assert res.returncode == 0, res.stderr
    assert res.stdout.split() == ["1000:1000", "1000:1000", "1000", "secretval", "x", "x"]
    files = {m.name for layer in image_layers(root, "feat:1") for m in layer}
    assert "got" in files and not any(n.startswith(("run/secrets/s", "cache/", "t/")) for n in files)
