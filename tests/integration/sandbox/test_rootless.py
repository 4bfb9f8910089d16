"""Rootless: a non-root user runs the sandbox in a user namespace (subordinate ids via
newuidmap when /etc/subuid grants them, else a single mapping), mounting the overlay
itself with `userxattr`. Files in the image and those a step creates belong to root
inside, and to the user (or its subordinate ids) outside."""

from __future__ import annotations

import json
import os
import pwd
import shutil
import subprocess
import tarfile
import tempfile
import textwrap
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.fixtures.common import REPO

# The test user must be able to run this interpreter (pyenv's may live under /root).
PYTHON = "/usr/bin/python3" if os.access("/usr/bin/python3", os.X_OK) else "python3"
WITH_SUBIDS, WITHOUT_SUBIDS = "pbsandbox", "pbsandbox1"


def _ensure_user(name: str, system: bool) -> pwd.struct_passwd:
    try:
        return pwd.getpwnam(name)
    except KeyError:
        # useradd gives a regular user subordinate ids (SUB_UID_COUNT); -r gives none.
        subprocess.run(
            ["useradd", "-M", "-s", "/usr/sbin/nologin", *(["-r"] if system else []), name],
            check=True,
        )
        return pwd.getpwnam(name)


def _subid_start(name: str) -> int | None:
    for line in (
        Path("/etc/subuid").read_text().splitlines() if Path("/etc/subuid").exists() else []
    ):
        user, start, _ = line.split(":")
        if user == name:
            return int(start)
    return None


@pytest.fixture
def workspace(
    busybox_tar: Path, request: pytest.FixtureRequest
) -> Iterator[tuple[Path, pwd.struct_passwd]]:
    name = request.param
    pw = _ensure_user(name, system=name == WITHOUT_SUBIDS)
    sub = _subid_start(name) if name == WITH_SUBIDS else None
    base = Path(tempfile.mkdtemp(prefix="pybuild-rootless-"))
    base.chmod(0o755)
    try:
        lower = base / "lower"
        with tarfile.open(busybox_tar) as tf:
            tf.extractall(lower, numeric_owner=True)
        # Shift ownership as an unprivileged unpacker would: inside uid 0 -> the user,
        # inside uid N -> subordinate id N-1 (or the user, without subordinate ids).
        for path in [lower, *lower.rglob("*")]:
            st = os.lstat(path)
            uid = pw.pw_uid if st.st_uid == 0 or sub is None else sub + st.st_uid - 1
            gid = pw.pw_gid if st.st_gid == 0 or sub is None else sub + st.st_gid - 1
            os.lchown(path, uid, gid)
        for d in ("upper", "work", "merged"):
            (base / d).mkdir()
            os.chown(base / d, pw.pw_uid, pw.pw_gid)
        yield base, pw
    finally:
        shutil.rmtree(base, ignore_errors=True)


def _run_as(pw: pwd.struct_passwd, base: Path, script: str, **spec: object) -> dict:
    code = textwrap.dedent(f"""
        import json, sys
        sys.path.insert(0, {str(REPO)!r})
        from pathlib import Path
        from builder.sandbox import Overlay, SandboxSpec, run
        from builder.errors import BuildError
        b = Path({str(base)!r})
        out, err = [], []
        try:
            r = run(SandboxSpec(rootfs=b / "merged", argv=("sh", "-c", {script!r}),
                                overlay=Overlay((b / "lower",), b / "upper", b / "work"),
                                **json.loads({json.dumps(spec)!r})),
                    stdout=out.append, stderr=err.append)
            res = {{"code": r.exit_code, "created": list(r.created_mountpoints)}}
        except BuildError as e:
            res = {{"error": str(e)}}
        res["out"] = b"".join(out).decode()
        res["err"] = b"".join(err).decode()
        print(json.dumps(res))
    """)
    proc = subprocess.run(
        [PYTHON, "-c", code],
        user=pw.pw_uid,
        group=pw.pw_gid,
        extra_groups=[],
        capture_output=True,
        text=True,
        cwd="/tmp",
        env={"PATH": "/usr/sbin:/usr/bin:/sbin:/bin"},
        timeout=60,
    )
    assert proc.returncode == 0, proc.stderr
    return json.loads(proc.stdout)


SCRIPT = (
    "id -u; touch /made-by-step; mkdir -p /var/cache/x; stat -c '%u:%g %n' /bin/busybox "
    "/made-by-step /home/app; grep -E 'CapEff|Seccomp:' /proc/self/status; "
    "mount | grep ' / '"
)


@pytest.mark.parametrize("workspace", [WITH_SUBIDS], indirect=True)
def test_rootless_with_subordinate_ids(workspace: tuple[Path, pwd.struct_passwd]) -> None:
    base, pw = workspace
    res = _run_as(pw, base, SCRIPT, network="none")
    assert res.get("code") == 0, res
    lines = res["out"].splitlines()
    assert lines[0] == "0"
    assert lines[1] == "0:0 /bin/busybox" and lines[2] == "0:0 /made-by-step"
    assert lines[3] == "1000:1000 /home/app"  # subordinate ids map back
    assert "a80425fb" in lines[4] and lines[5].endswith("2")
    assert "userxattr" in lines[6]
    st = os.stat(base / "upper" / "made-by-step")
    assert (st.st_uid, st.st_gid) == (pw.pw_uid, pw.pw_gid)  # root inside = the user
    # USER app works too: uid 1000 is mapped through the subordinate range.
    res = _run_as(
        pw, base, "id -u; touch /tmp/app-file; stat -c %u /tmp/app-file", network="host", user="app"
    )
    assert res["out"].split() == ["1000", "1000"], res


@pytest.mark.parametrize("workspace", [WITHOUT_SUBIDS], indirect=True)
def test_rootless_single_mapping(workspace: tuple[Path, pwd.struct_passwd]) -> None:
    base, pw = workspace
    res = _run_as(pw, base, SCRIPT, network="none")
    assert res.get("code") == 0, res
    lines = res["out"].splitlines()
    assert lines[0] == "0" and lines[1] == "0:0 /bin/busybox" and lines[2] == "0:0 /made-by-step"
    st = os.stat(base / "upper" / "made-by-step")
    assert st.st_uid == pw.pw_uid
    res = _run_as(pw, base, "id", network="none", user="app")
    assert "is not mapped in the user namespace" in res["error"]
    assert "/etc/subuid" in res["error"]


@pytest.mark.parametrize("workspace", [WITHOUT_SUBIDS], indirect=True)
def test_rootless_limits_need_a_cgroup(workspace: tuple[Path, pwd.struct_passwd]) -> None:
    base, pw = workspace
    res = _run_as(pw, base, "true", network="none", memory=64 << 20)
    assert "cgroup" in res["error"] and "\n" not in res["error"]


@pytest.mark.parametrize("workspace", [WITH_SUBIDS], indirect=True)
def test_rootless_default_network(workspace: tuple[Path, pwd.struct_passwd]) -> None:
    """slirp4netns needs /dev/net/tun; where the host locks it (0600), the error says how."""
    from tests.integration.sandbox.test_network import _global_ipv4, _serve

    base, pw = workspace
    addr = _global_ipv4() or "127.0.0.1"
    srv, port = _serve(addr)
    with srv:
        res = _run_as(pw, base, f"nc -w 3 {addr} {port} </dev/null", network="default")
    if os.stat("/dev/net/tun").st_mode & 0o006 == 0o006:
        assert "hello-from-host" in res["out"], res
    else:
        assert "chmod 0666 /dev/net/tun" in res["error"]
