"""USER resolution in an image's files, scoped paths, /etc contents, spec checks and
error messages (pure; no namespaces)."""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from builder.sandbox import (
    Overlay,
    SandboxError,
    SandboxSpec,
    StepFailed,
    StepOOM,
    UnknownUser,
    check,
    network,
    user,
)
from builder.sandbox.mounts import overlay_options
from builder.sandbox.spec import SandboxResult

PASSWD = "root:x:0:0:root:/root:/bin/sh\napp:x:1000:1000:app:/home/app:/bin/sh\n#c\nbad\n"
GROUP = "root:x:0:\nwheel:x:10:app,other\napp:x:1000:\nstaff:x:50:app\n"


@pytest.fixture
def image(tmp_path: Path) -> Path:
    (tmp_path / "etc").mkdir()
    (tmp_path / "etc" / "passwd").write_text(PASSWD)
    (tmp_path / "etc" / "group").write_text(GROUP)
    return tmp_path


@pytest.mark.parametrize(
    ("spec", "uid", "gid", "groups", "home"),
    [
        ("", 0, 0, (0,), "/root"),
        ("root", 0, 0, (0,), "/root"),
        ("app", 1000, 1000, (1000, 10, 50), "/home/app"),
        ("1000", 1000, 1000, (1000, 10, 50), "/home/app"),
        ("app:staff", 1000, 50, (50,), "/home/app"),
        ("1000:77", 1000, 77, (77,), "/home/app"),
        ("4242", 4242, 0, (0,), "/"),
    ],
)
def test_resolve(image: Path, spec: str, uid: int, gid: int, groups: tuple, home: str) -> None:
    got = user.resolve(image, spec)
    assert (got.uid, got.gid, got.groups, got.home) == (uid, gid, groups, home)


def test_unknown_names(image: Path) -> None:
    with pytest.raises(UnknownUser, match="unable to find user ghost"):
        user.resolve(image, "ghost")
    with pytest.raises(UnknownUser, match="unable to find group nope"):
        user.resolve(image, "app:nope")


def test_image_without_passwd(tmp_path: Path) -> None:
    assert user.resolve(tmp_path, "").uid == 0
    assert user.resolve(tmp_path, "33:33").gid == 33


def test_passwd_symlink_cannot_escape(tmp_path: Path) -> None:
    (tmp_path / "etc").mkdir()
    (tmp_path / "etc" / "group").write_text(GROUP)
    # Both would name the host's files if followed naively.
    (tmp_path / "etc" / "passwd").symlink_to("../../../../../../etc/group")
    assert user.scoped_path(tmp_path, "/etc/passwd") == tmp_path / "etc" / "group"
    with pytest.raises(UnknownUser):
        user.resolve(tmp_path, "daemon")  # in the host's passwd, not the image's
    (tmp_path / "etc" / "loop").symlink_to("/etc/loop")
    with pytest.raises(SandboxError, match="too many symlinks"):
        user.scoped_path(tmp_path, "/etc/loop")


@given(st.lists(st.sampled_from(["..", ".", "a", "b", "", "etc"]), max_size=8))
def test_scoped_path_stays_inside(
    tmp_path_factory: pytest.TempPathFactory, parts: list[str]
) -> None:
    root = tmp_path_factory.getbasetemp()
    got = user.scoped_path(root, "/".join(parts))
    assert got == root or root in got.parents


def test_process_env_defaults() -> None:
    ident = user.Identity(1000, 1000, (1000,), "/home/app")
    env = user.process_env((("FOO", "1"),), ident)
    assert env == {"PATH": user.DEFAULT_PATH, "HOME": "/home/app", "FOO": "1"}
    assert user.process_env((("HOME", "/x"), ("PATH", "/bin")), ident)["HOME"] == "/x"


def test_hosts_and_resolv() -> None:
    hosts = network.hosts_content("none", "box", (("db", "10.1.1.1"),))
    assert "127.0.0.1\tlocalhost" in hosts and "127.0.0.1\tbox" in hosts
    assert hosts.endswith("10.1.1.1\tdb\n")
    assert "10.0.2.100\tbox" in network.hosts_content("default", "box", ())
    assert network.resolv_content("default").startswith("nameserver 10.0.2.3\n")
    assert "nameserver 127." not in network.resolv_content("none")


def test_overlay_options() -> None:
    ov = Overlay((Path("/l2"), Path("/l1")), Path("/u"), Path("/w"))
    assert overlay_options(ov, False) == "lowerdir=/l2:/l1,upperdir=/u,workdir=/w"
    assert overlay_options(ov, True).endswith(",userxattr")


def test_spec_validation() -> None:
    with pytest.raises(ValueError, match="network"):
        SandboxSpec(rootfs=Path("/"), argv=("true",), network="bridge")
    with pytest.raises(ValueError, match="argv"):
        SandboxSpec(rootfs=Path("/"), argv=())


def test_check_messages() -> None:
    assert check(SandboxResult(0), "RUN true").exit_code == 0
    with pytest.raises(StepOOM, match=r"RUN x: ran out of memory at the 64 MiB limit"):
        check(SandboxResult(137, 9, True, memory_limit=64 << 20), "RUN x")
    with pytest.raises(StepFailed, match="killed by signal 15"):
        check(SandboxResult(143, 15), "RUN y")
    assert StepFailed("RUN z", 2).exit_code == 1  # a failed step ends the build with 1
