"""Rootless and the store: the single mapping (no subuid range) and its one-line
errors, root-made stores (refused, or switched when empty), rmi/prune of snapshots
holding subordinate ids, a SIGKILLed build, and concurrent rootless builds."""

from __future__ import annotations

import os
import stat
from pathlib import Path

from tests.integration.rootless.helpers import (
    WITHOUT_SUBIDS,
    User,
    chown_tar_to_root,
    ensure_user,
    give,
    image_layers,
    make_home,
    python_for,
)


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
    chown_tar_to_root(busybox_tar, root_only)
    give(root_only, pw)
    assert u.pybuild("import", str(root_only), "rootbox:latest").returncode == 0
    (ctx / "Dockerfile").write_text(
        "FROM rootbox\nRUN echo hi > /x && rm /etc/passwd.gone 2>/dev/null; "
        'rm -f /bin/vi\nCMD ["cat", "/x"]\n'
    )
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
    st = store.stat()  # the user's store is the user's alone
    assert (st.st_uid, stat.S_IMODE(st.st_mode)) == (pw.pw_uid, 0o700)


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
    s.snapshots.ensure_layers(
        [la.descriptor for la in im.layers()], [la.diff_id for la in im.layers()]
    )
    assert s.snapshots.list()
    s.close()
    give(root, user.pw)
    u = User(user.pw, user.home, user.python, (("PYBUILD_ROOT", str(root)),))
    res = u.pybuild("run", "--network", "none", "busybox:latest", "true")
    assert res.returncode == 1
    err = res.stderr.strip()
    assert "made by root" in err and "trusted.overlay.opaque" in err and "\n" not in err, err


def test_empty_root_store_switches_to_the_rootless_form(
    base: Path, user: User, busybox_tar: Path
) -> None:
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


def test_rmi_and_prune_remove_snapshots(built: tuple[User, Path]) -> None:
    """Snapshots hold files of subordinate ids, which only the namespace can delete."""
    user, _ = built
    other = User(user.pw, user.home, user.python, (("PYBUILD_ROOT", str(user.home / "s3")),))
    ctx = user.home / "ctx"
    assert (
        other.pybuild("import", str(user.home.parent / "rootfs.tar"), "busybox:latest").returncode
        == 0
    )
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
    assert (
        other.pybuild("import", str(user.home.parent / "rootfs.tar"), "busybox:latest").returncode
        == 0
    )
    ctx = user.home / "ctx-kill"
    ctx.mkdir()
    (ctx / "Dockerfile").write_text("FROM busybox\nRUN touch /home/app/x && sleep 60\n")
    give(ctx, user.pw)
    env = {"PATH": PATH, "HOME": str(user.home), "PYBUILD_ROOT": str(root)}
    proc = subprocess.Popen(
        [user.python, "-c", LAUNCH, "build", "-q", "--network", "none", str(ctx)],
        user=user.pw.pw_uid,
        group=user.pw.pw_gid,
        extra_groups=[],
        env=env,
        cwd=str(user.home),
        start_new_session=True,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
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
        results = list(
            ex.map(
                lambda i: user.pybuild(
                    "build", "-q", "-t", f"par:{i}", "--network", "none", str(ctxs[i])
                ),
                range(2),
            )
        )
    for res in results:
        assert res.returncode == 0, res.stderr
    for i in range(2):
        res = user.pybuild("run", "--network", "none", f"par:{i}", "cat", "/n")
        assert res.stdout == f"{i}\n", res.stderr
    assert user.pybuild("fsck").returncode == 0
