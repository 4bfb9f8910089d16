"""Rootless end to end: a non-root user imports the busybox base, builds a Dockerfile
with RUN steps (a whiteout, an opaque dir, COPY, USER app), runs the image, pushes,
pulls and loads it, all through the real `pybuild` CLI in its own user namespace. The
layers hold root-owned files (1000 where USER app made them) whatever the user's host
uid; on disk the snapshots use user.overlay xattrs and subordinate ids."""

from __future__ import annotations

import os
import stat
from pathlib import Path

from tests.integration.rootless.helpers import (
    User,
    give,
    image_layers,
    layer_digests,
    subid_start,
    xattr,
)


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
    base_l, run1, run2, copy1, copy2, run3 = (
        {m.name.rstrip("/"): m for m in layer} for layer in layers
    )
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
    for layer in (
        run1,
        run2,
        copy1,
        copy2,
        run3,
    ):  # never the user's host ids, never overlay's xattrs
        for m in layer.values():
            assert m.uid in (0, 1000) and m.gid in (0, 1000), m.name
            assert not any("overlay." in k for k in m.pax_headers), m.name
            assert not m.ischr()


def test_snapshots_use_user_xattrs_and_subordinate_ids(built: tuple[User, Path]) -> None:
    user, root = built
    sub = subid_start(user.pw.pw_name)
    assert sub is not None
    snaps = root / "snapshots"
    opaque = [p for p in snaps.glob("*/diff/opq") if xattr(p, "user.overlay.opaque") == b"y"]
    assert opaque and not any(xattr(p, "trusted.overlay.opaque") for p in opaque)
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
    res = user.pybuild(
        "run",
        "--network",
        "host",
        "--user",
        "0",
        "app:1",
        "sh",
        "-c",
        "id -u; cat /tmp/id; touch /root/x && echo root-can-write",
    )
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
    res = user.pybuild(
        "run", "--network", "default", "--user", "0", "app:1", "sh", "-c", "ip -o addr show tap0"
    )
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
    assert any(xattr(p, "user.overlay.opaque") == b"y" for p in snaps.glob("*/diff/opq"))


def test_push_and_pull_as_the_user(built: tuple[User, Path], registry) -> None:
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
    res = user.pybuild(
        "build",
        "-q",
        "-t",
        "feat:1",
        "--network",
        "none",
        "--secret",
        f"id=s,src={ctx / 's.txt'}",
        str(ctx),
    )
    assert res.returncode == 0, res.stderr
    res = user.pybuild(
        "run",
        "--network",
        "none",
        "feat:1",
        "sh",
        "-c",
        "stat -c %u:%g /f /arch/d/a; cat /cache-owner /got /o2 /t-list",
    )
    assert res.returncode == 0, res.stderr
    assert res.stdout.split() == ["1000:1000", "1000:1000", "1000", "secretval", "x", "x"]
    files = {m.name for layer in image_layers(root, "feat:1") for m in layer}
    assert "got" in files and not any(
        n.startswith(("run/secrets/s", "cache/", "t/")) for n in files
    )
