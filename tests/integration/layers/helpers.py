"""Shared helpers for the layer integration tests: tiny layer tars, putting them in
a store, and a comparable description of a mounted tree."""

from __future__ import annotations

import hashlib
import io
import os
import stat
from pathlib import Path

from store.compress import compressor
from store.layerdiff import MEDIA_TYPES
from store.oci import tar as ts
from store.oci.digest import Descriptor, Digest


def tar_of(names: list[str], content: str = "") -> bytes:
    """Directories end in '/', whiteouts are `.wh.` names, the rest are files whose
    data is `content + name`."""
    out = bytearray()
    for n in names:
        if n.endswith("/"):
            out += ts.header(n, ts.DIR, mode=0o755)
        else:
            data = b"" if os.path.basename(n).startswith(".wh.") else (content + n).encode()
            out += ts.header(n, ts.REG, mode=0o644, size=len(data)) + data + ts.padding(len(data))
    return bytes(out + ts.END_OF_ARCHIVE)


def put_layer(store, tar: bytes, compression: str | None = "gzip") -> tuple[Descriptor, Digest]:
    buf = io.BytesIO()
    w = compressor(compression, buf)
    w.write(tar)
    w.close()
    desc = store.blobs.put(io.BytesIO(buf.getvalue()), MEDIA_TYPES[compression])
    return desc, Digest.of_bytes(tar)


def paths(root: Path) -> set[str]:
    """Every path under root, relative, directories with a trailing '/'."""
    out = set()
    for dirpath, dirnames, filenames in os.walk(root):
        rel = os.path.relpath(dirpath, root)
        pre = "" if rel == "." else rel + "/"
        out.update(pre + d + "/" for d in dirnames)
        out.update(pre + f for f in filenames)
    return out


def describe(root: Path, *, mtimes: bool = True) -> dict[str, tuple]:
    """A comparable view of a tree: type, mode, ids, content, link, rdev, xattrs,
    whole-second mtimes (not for the root), and hard-link groups."""
    out: dict[str, tuple] = {}
    inodes: dict[int, list[str]] = {}
    for rel in sorted(paths(root)):
        p = root / rel.rstrip("/")
        st = os.lstat(p)
        kind = stat.S_IFMT(st.st_mode)
        body = ""
        if stat.S_ISREG(st.st_mode):
            body = hashlib.sha256(p.read_bytes()).hexdigest()[:16]
            inodes.setdefault(st.st_ino, []).append(rel)
        elif stat.S_ISLNK(st.st_mode):
            body = os.readlink(p)
        xa = {
            k: os.getxattr(p, k, follow_symlinks=False)
            for k in os.listxattr(p, follow_symlinks=False)
            if ".overlay." not in k
        }
        mt = int(st.st_mtime) if mtimes and not stat.S_ISDIR(st.st_mode) else 0
        out[rel] = (
            kind,
            stat.S_IMODE(st.st_mode),
            st.st_uid,
            st.st_gid,
            body,
            st.st_rdev,
            sorted(xa.items()),
            mt,
        )
    groups = sorted(sorted(v) for v in inodes.values() if len(v) > 1)
    out["<hardlinks>"] = tuple(tuple(g) for g in groups)
    return out
