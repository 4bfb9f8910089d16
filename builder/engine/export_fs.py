"""`--output type=local,dest=DIR` and `--output type=tar,dest=FILE|-`: the final stage's
root filesystem (the merged view of its layers, so whiteouts are already applied)
written into a directory or a tar, as BuildKit's local and tar exporters do. Modes,
mtimes, symlinks, hard links, devices, fifos and xattrs are kept; the tar keeps the
numeric owners, while the directory's files belong to whoever runs the build (as with
`docker build -o DIR`, whose client writes them)."""

from __future__ import annotations

import os
import shutil
import stat
import sys
import tarfile
from collections.abc import Iterator
from pathlib import Path
from typing import IO

_XATTR_PREFIXES = ("user.", "security.capability")


def walk(root: str, rel: str = "") -> Iterator[tuple[str, os.stat_result]]:
    """(relative path, lstat) of everything under root, sorted, parents first."""
    base = os.path.join(root, rel) if rel else root
    for name in sorted(os.listdir(base)):
        r = f"{rel}/{name}" if rel else name
        st = os.lstat(os.path.join(root, r))
        yield r, st
        if stat.S_ISDIR(st.st_mode):
            yield from walk(root, r)


def _xattrs(path: str) -> dict[str, bytes]:
    out: dict[str, bytes] = {}
    try:
        names = os.listxattr(path, follow_symlinks=False)
    except OSError:
        return out
    for n in names:
        if n.startswith(_XATTR_PREFIXES):
            try:
                out[n] = os.getxattr(path, n, follow_symlinks=False)
            except OSError:
                continue
    return out


def to_dir(root: str, dest: Path, *, owners: bool = False) -> None:
    """Copy the tree at `root` into `dest` (created when missing; existing files of the
    same name are replaced, others are left alone). Owners are copied only with `owners`."""
    dest.mkdir(parents=True, exist_ok=True)
    links: dict[tuple[int, int], str] = {}
    dirs: list[tuple[str, os.stat_result]] = []
    for rel, st in walk(root):
        src, dst = os.path.join(root, rel), os.path.join(dest, rel)
        mode = st.st_mode
        if stat.S_ISDIR(mode):
            if os.path.lexists(dst) and not os.path.isdir(dst):
                os.unlink(dst)
            os.makedirs(dst, exist_ok=True)
            dirs.append((rel, st))
            continue
        if os.path.lexists(dst):
            shutil.rmtree(dst) if os.path.isdir(dst) and not os.path.islink(dst) else os.unlink(dst)
        ino = (st.st_dev, st.st_ino)
        if not stat.S_ISDIR(mode) and st.st_nlink > 1 and ino in links:
            os.link(links[ino], dst)
            continue
        if stat.S_ISLNK(mode):
            os.symlink(os.readlink(src), dst)
        elif stat.S_ISREG(mode):
            with open(src, "rb") as fi, open(dst, "xb") as fo:
                shutil.copyfileobj(fi, fo, 1 << 20)
        elif stat.S_ISCHR(mode) or stat.S_ISBLK(mode) or stat.S_ISFIFO(mode):
            os.mknod(dst, mode, st.st_rdev)
        else:
            continue  # sockets are not exported
        if st.st_nlink > 1:
            links[ino] = dst
        _meta(src, dst, st, owners)
    for rel, st in reversed(dirs):  # children first, so their writes do not bump mtimes
        _meta(os.path.join(root, rel), os.path.join(dest, rel), st, owners)


def _meta(src: str, dst: str, st: os.stat_result, owners: bool) -> None:
    for k, v in _xattrs(src).items():
        try:
            os.setxattr(dst, k, v, follow_symlinks=False)
        except OSError:
            pass
    if owners:
        os.lchown(dst, st.st_uid, st.st_gid)
    if not stat.S_ISLNK(st.st_mode):
        os.chmod(dst, stat.S_IMODE(st.st_mode))
    os.utime(dst, ns=(st.st_atime_ns, st.st_mtime_ns), follow_symlinks=False)


def to_tar(root: str, dest: str) -> None:
    """A PAX tar of the tree at `root`, to the file `dest` or to stdout for '-'."""
    if dest == "-":
        _write_tar(root, sys.stdout.buffer)
        sys.stdout.buffer.flush()
        return
    tmp = f"{dest}.tmp-{os.getpid()}"
    try:
        with open(tmp, "wb") as f:
            _write_tar(root, f)
        os.replace(tmp, dest)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def _write_tar(root: str, out: IO[bytes]) -> None:
    links: dict[tuple[int, int], str] = {}
    with tarfile.open(fileobj=out, mode="w|", format=tarfile.PAX_FORMAT) as tf:
        for rel, st in walk(root):
            path = os.path.join(root, rel)
            if stat.S_ISSOCK(st.st_mode):
                continue
            ti = tf.tarinfo(rel + "/" if stat.S_ISDIR(st.st_mode) else rel)
            ti.mode, ti.uid, ti.gid = stat.S_IMODE(st.st_mode), st.st_uid, st.st_gid
            ti.mtime, ti.uname, ti.gname = st.st_mtime, "", ""
            ti.pax_headers = {
                f"SCHILY.xattr.{k}": v.decode("latin-1") for k, v in _xattrs(path).items()
            }
            ino = (st.st_dev, st.st_ino)
            if stat.S_ISREG(st.st_mode) and st.st_nlink > 1 and ino in links:
                ti.type, ti.linkname = tarfile.LNKTYPE, links[ino]
                tf.addfile(ti)
                continue
            if stat.S_ISDIR(st.st_mode):
                ti.type = tarfile.DIRTYPE
            elif stat.S_ISLNK(st.st_mode):
                ti.type, ti.linkname = tarfile.SYMTYPE, os.readlink(path)
            elif stat.S_ISREG(st.st_mode):
                ti.type, ti.size = tarfile.REGTYPE, st.st_size
                if st.st_nlink > 1:
                    links[ino] = rel
                with open(path, "rb") as f:
                    tf.addfile(ti, f)
                continue
            elif stat.S_ISFIFO(st.st_mode):
                ti.type = tarfile.FIFOTYPE
            else:
                ti.type = tarfile.CHRTYPE if stat.S_ISCHR(st.st_mode) else tarfile.BLKTYPE
                ti.devmajor, ti.devminor = os.major(st.st_rdev), os.minor(st.st_rdev)
            tf.addfile(ti)
