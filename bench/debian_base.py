"""The Debian base of the engine benchmark's Debian scenario: a
`debootstrap --variant=minbase bookworm` root, cached under /tmp/pybuild-bench-debian
so reruns are fast, written as a rootfs tar (numeric owners, sorted names, /dev,
/proc and /sys emptied: device nodes belong to the runtime, not the image) and
imported into a pybuild store as `debian:bookworm` (like `docker import`).

Needs root, Debian's `debootstrap` and a reachable Debian mirror on the first run.
`python3 bench/debian_base.py` only makes (or reuses) the cached root and tar.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

CACHE = Path("/tmp/pybuild-bench-debian")
MIRROR = "http://deb.debian.org/debian"
SUITE = "bookworm"
NAME = "debian:bookworm"
EPOCH = "1600000000"  # fixed image time: every store's base is the same image
DEFAULT_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"


def debootstrap_root(cache: Path = CACHE) -> Path:
    """The minbase root, made once; a root whose debootstrap did not finish is redone."""
    root, done = cache / "debroot", cache / "debroot.done"
    if done.exists():
        return root
    if shutil.which("debootstrap") is None:
        raise RuntimeError("debootstrap is not installed (apt-get install debootstrap)")
    cache.mkdir(parents=True, exist_ok=True)
    shutil.rmtree(root, ignore_errors=True)
    subprocess.run(
        ["debootstrap", "--variant=minbase", SUITE, str(root), MIRROR],
        check=True,
        stdout=subprocess.DEVNULL,
    )
    done.touch()
    return root


def rootfs_tar(cache: Path = CACHE) -> Path:
    """The root as a plain tar (made once from `debootstrap_root`)."""
    out = cache / "rootfs.tar"
    if out.exists():
        return out
    root = debootstrap_root(cache)
    tmp = out.with_suffix(".tmp")
    # apt's downloaded .debs are a cache, not part of the image (docker's debian has none)
    subprocess.run(
        [
            "tar",
            "--numeric-owner",
            "--sort=name",
            "-C",
            str(root),
            "--exclude=./dev/*",
            "--exclude=./proc/*",
            "--exclude=./sys/*",
            "--exclude=./var/cache/apt/archives/*.deb",
            "-cf",
            str(tmp),
            ".",
        ],
        check=True,
    )
    os.replace(tmp, out)
    return out


def count_files(root: Path, sub: str = "usr") -> int:
    return sum(len(files) for _, _, files in os.walk(root / sub))


def import_base(store_root: Path, tar: Path, *, unpack: bool = True) -> None:
    """Import `tar` as debian:bookworm into the store at `store_root`; with `unpack`,
    also unpack it, as `docker load` and `buildah pull` do before a timed build."""
    from store.image import resolve_image
    from store.layout import open_store
    from store.oci.config import ContainerConfig
    from store.rootfs_import import import_rootfs

    store = open_store(store_root)
    old = os.environ.get("SOURCE_DATE_EPOCH")
    os.environ["SOURCE_DATE_EPOCH"] = EPOCH  # else two stores' bases differ: no cache hit
    try:
        cfg = ContainerConfig(env=(f"PATH={DEFAULT_PATH}",), cmd=("bash",))
        import_rootfs(store, tar, NAME, config=cfg)
        if unpack:
            img = resolve_image(store, NAME)
            store.snapshots.ensure_layers(
                [sl.descriptor for sl in img.layers()], [sl.diff_id for sl in img.layers()]
            )
    finally:
        if old is None:
            del os.environ["SOURCE_DATE_EPOCH"]
        else:
            os.environ["SOURCE_DATE_EPOCH"] = old
        store.close()


if __name__ == "__main__":
    t = rootfs_tar()
    print(
        f"{t} ({t.stat().st_size / 1e6:.0f} MB); /usr holds {count_files(debootstrap_root())} files"
    )
