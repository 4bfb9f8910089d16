"""Loads testdata/hostile-tars/corpus.py (its folder name is not importable) and
snapshots a directory tree so tests can prove the host was untouched."""

from __future__ import annotations

import importlib.util
import os
import sys
from pathlib import Path
from types import ModuleType

CORPUS_PY = Path(__file__).resolve().parents[3] / "testdata" / "hostile-tars" / "corpus.py"


def load_corpus() -> ModuleType:
    spec = importlib.util.spec_from_file_location("hostile_corpus", CORPUS_PY)
    assert spec is not None and spec.loader is not None
    mod = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = mod  # dataclasses look their module up here
    spec.loader.exec_module(mod)
    return mod


def tree_state(top: Path) -> dict[str, tuple]:
    """Every path under `top` with type, mode, size, mtime_ns, content and xattrs."""
    out: dict[str, tuple] = {}
    for dirpath, dirnames, filenames in os.walk(top):
        for name in dirnames + filenames:
            p = os.path.join(dirpath, name)
            st = os.lstat(p)
            body = Path(p).read_bytes() if os.path.isfile(p) and not os.path.islink(p) else b""
            xa = tuple(sorted(os.listxattr(p, follow_symlinks=False)))
            out[os.path.relpath(p, top)] = (st.st_mode, st.st_size, st.st_mtime_ns, body, xa)
    st = os.stat(top)
    out["."] = (st.st_mode, st.st_mtime_ns, tuple(os.listxattr(top)))
    return out


def make_base(base: Path) -> tuple[Path, Path]:
    """BASE/root (empty) and BASE/outside/sentinel, per the corpus contract."""
    root, outside = base / "root", base / "outside"
    root.mkdir()
    outside.mkdir()
    (outside / "sentinel").write_bytes(b"do not touch\n")
    return root, outside
