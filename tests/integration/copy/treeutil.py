"""Helpers for the copy tests: build a tree from a spec and read one back."""

from __future__ import annotations

import os
import stat
from pathlib import Path

# spec values: "text" (file 0644), ("text", 0o755), ("link", target), ("dir", mode)


def make_tree(root: Path, spec: dict[str, object]) -> Path:
    root.mkdir(parents=True, exist_ok=True)
    for rel, val in spec.items():
        p = root / rel
        p.parent.mkdir(parents=True, exist_ok=True)
        if isinstance(val, tuple) and val[0] == "link":
            os.symlink(val[1], p)
        elif isinstance(val, tuple) and val[0] == "dir":
            p.mkdir(exist_ok=True)
            os.chmod(p, val[1])
        else:
            text, mode = val if isinstance(val, tuple) else (val, 0o644)
            p.write_text(text)
            os.chmod(p, mode)
    return root


def read_tree(root: Path) -> dict[str, tuple]:
    """path -> (type, mode, uid, gid, content-or-link) for everything under root."""
    out: dict[str, tuple] = {}
    for dirpath, dirnames, filenames in os.walk(root):
        for name in dirnames + filenames:
            p = Path(dirpath) / name
            st = os.lstat(p)
            rel = str(p.relative_to(root))
            mode = stat.S_IMODE(st.st_mode)
            if stat.S_ISLNK(st.st_mode):
                out[rel] = ("link", 0, st.st_uid, st.st_gid, os.readlink(p))
            elif stat.S_ISDIR(st.st_mode):
                out[rel] = ("dir", mode, st.st_uid, st.st_gid, None)
            elif stat.S_ISREG(st.st_mode):
                out[rel] = (
                    "file",
                    mode,
                    st.st_uid,
                    st.st_gid,
                    p.read_bytes().decode("utf-8", "replace"),
                )
            elif stat.S_ISFIFO(st.st_mode):
                out[rel] = ("fifo", mode, st.st_uid, st.st_gid, None)
            else:
                out[rel] = ("other", mode, st.st_uid, st.st_gid, None)
    return out
