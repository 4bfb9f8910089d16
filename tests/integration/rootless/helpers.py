"""Running the real `pybuild` CLI as a non-root user, and reading a store's layers
without writing to it (a root process must not leave root-owned files in a user's
store)."""

from __future__ import annotations

import json
import os
import pwd
import subprocess
import tarfile
from dataclasses import dataclass
from pathlib import Path

from tests.fixtures.common import REPO

LAUNCH = (
    f"import sys; sys.path.insert(0, {str(REPO)!r}); from builder.cli import main; sys.exit(main())"
)
PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
WITH_SUBIDS, WITHOUT_SUBIDS = "pbrootless", "pbrootless1"


def ensure_user(name: str, subids: bool) -> pwd.struct_passwd:
    """The test user, created once: with a subordinate id range, or with none (-r)."""
    try:
        pw = pwd.getpwnam(name)
    except KeyError:
        subprocess.run(
            ["useradd", "-M", "-s", "/usr/sbin/nologin", *([] if subids else ["-r"]), name],
            check=True,
        )
        pw = pwd.getpwnam(name)
    if subids and subid_start(name) is None:  # useradd without SUB_UID_COUNT
        subprocess.run(
            ["usermod", "--add-subuids", "300000-365535", "--add-subgids", "300000-365535", name],
            check=True,
        )
    return pw


def subid_start(name: str) -> int | None:
    p = Path("/etc/subuid")
    for line in p.read_text().splitlines() if p.exists() else []:
        parts = line.split(":")
        if len(parts) == 3 and parts[0] == name:
            return int(parts[1])
    return None


def python_for(pw: pwd.struct_passwd) -> str:
    """An interpreter the user can run that has pybuild's dependencies (the test
    runner's may live under /root; Debian's needs python3-lark and friends)."""
    import sys

    for cand in (sys.executable, "/usr/bin/python3"):
        try:
            probe = subprocess.run(
                [cand, "-c", "import lark, zstandard, rich"],
                user=pw.pw_uid,
                group=pw.pw_gid,
                extra_groups=[],
                capture_output=True,
                env={"PATH": PATH},
                cwd="/",
            )
        except PermissionError:  # e.g. under /root
            continue
        if probe.returncode == 0:
            return cand
    raise AssertionError(
        "no interpreter with lark/zstandard/rich runs as the test user "
        "(apt-get install python3-lark python3-zstandard python3-rich)"
    )


@dataclass(frozen=True)
class User:
    pw: pwd.struct_passwd
    home: Path
    python: str
    env_extra: tuple[tuple[str, str], ...] = ()

    def pybuild(self, *args: str, timeout: float = 120) -> subprocess.CompletedProcess[str]:
        env = {
            "PATH": PATH,
            "HOME": str(self.home),
            "XDG_DATA_HOME": str(self.home / "xdg"),
            "LANG": "C.UTF-8",
            **dict(self.env_extra),
        }
        return subprocess.run(
            [self.python, "-c", LAUNCH, *args],
            user=self.pw.pw_uid,
            group=self.pw.pw_gid,
            extra_groups=[],
            capture_output=True,
            text=True,
            env=env,
            cwd=str(self.home),
            timeout=timeout,
        )


def make_home(base: Path, pw: pwd.struct_passwd) -> Path:
    home = base / pw.pw_name
    home.mkdir()
    os.chown(home, pw.pw_uid, pw.pw_gid)
    return home


def give(path: Path, pw: pwd.struct_passwd) -> None:
    for p in [path, *path.rglob("*")] if path.is_dir() else [path]:
        os.lchown(p, pw.pw_uid, pw.pw_gid)


def _manifest(root: Path, tag: str) -> dict:
    index = json.loads((root / "index.json").read_text())
    for m in index["manifests"]:
        name = m.get("annotations", {}).get("org.opencontainers.image.ref.name", "")
        if name == tag:
            return json.loads(_blob(root, m["digest"]).read_bytes())
    raise AssertionError(f"{tag} not in {root}/index.json: {index}")


def layer_digests(root: Path, tag: str) -> list[str]:
    return [la["digest"] for la in _manifest(root, tag)["layers"]]


def image_layers(root: Path, tag: str) -> list[list[tarfile.TarInfo]]:
    """The members of each layer of `tag` in the store at `root`, read-only."""
    manifest = _manifest(root, tag)
    out = []
    for layer in manifest["layers"]:
        with tarfile.open(_blob(root, layer["digest"]), "r:*") as tf:
            out.append(tf.getmembers())
    return out


def _blob(root: Path, digest: str) -> Path:
    algo, hexa = digest.split(":")
    return root / "blobs" / algo / hexa


def xattr(p: Path, name: str) -> bytes | None:
    try:
        return os.getxattr(p, name, follow_symlinks=False)
    except OSError:
        return None


def chown_tar_to_root(src: Path, dst: Path) -> None:
    import tarfile

    with tarfile.open(src) as tin, tarfile.open(dst, "w", format=tarfile.PAX_FORMAT) as tout:
        for m in tin.getmembers():
            m.uid = m.gid = 0
            tout.addfile(m, tin.extractfile(m) if m.isfile() else None)
