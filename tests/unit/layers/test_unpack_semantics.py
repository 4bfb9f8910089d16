"""Unpack semantics beyond hostility: overlay-form whiteouts in one layer, deep
trees past the fd cache, hard links across them, and directory metadata."""

from __future__ import annotations

import io
import os
import resource
import stat
from pathlib import Path

import pytest

from store.oci import tar as ts
from store.unpack import UnpackOptions, unpack_tar
from store.whiteout import ROOTLESS_FORMAT


def _e(name: str, typ: bytes = ts.REG, data: bytes = b"", **kw: object) -> bytes:
    kw.setdefault("mode", 0o644)
    size = len(data) if typ == ts.REG else 0
    return ts.header(name, typ, size=size, **kw) + data + ts.padding(len(data))  # type: ignore[arg-type]


def test_deep_and_wide_trees_with_hard_links(tmp_path: Path) -> None:
    deep = "/".join(f"d{i}" for i in range(150))
    parts = [_e(f"{deep}/file", data=b"deep", mtime=1000)]
    parts += [_e(f"w{i}/f", data=b"w", mtime=1000) for i in range(300)]
    parts += [
        _e("top-link", ts.LNK, linkname=f"{deep}/file"),
        _e(f"w0/{'x' * 200}", ts.LNK, linkname="w299/f"),
    ]
    parts += [_e(f"w{i}/", ts.DIR, mode=0o750, mtime=2000) for i in range(300)]
    soft, _ = resource.getrlimit(resource.RLIMIT_NOFILE)
    unpack_tar(io.BytesIO(b"".join(parts) + ts.END_OF_ARCHIVE), tmp_path, UnpackOptions())
    assert (tmp_path / "top-link").read_bytes() == b"deep"
    assert os.stat(tmp_path / "top-link").st_ino == os.stat(tmp_path / deep / "file").st_ino
    assert os.stat(tmp_path / "w0" / ("x" * 200)).st_nlink == 2
    st = os.stat(tmp_path / "w5")
    assert stat.S_IMODE(st.st_mode) == 0o750 and int(st.st_mtime) == 2000
    assert len(os.listdir("/proc/self/fd")) < soft


@pytest.mark.root  # mknod of the 0/0 whiteout device
def test_whiteouts_in_one_layer_become_overlay_form(tmp_path: Path) -> None:
    data = (
        b"".join(
            [
                _e("keep"),
                _e(".wh.keep"),  # same layer: not hidden
                _e(".wh.gone"),  # a char 0/0 device
                _e(".wh.redo"),
                _e("redo/", ts.DIR),  # whiteout then dir: an opaque dir
                _e("redo/x"),
                _e("o/a"),
                _e("o/.wh..wh..opq"),  # opaque marker after entries
            ]
        )
        + ts.END_OF_ARCHIVE
    )
    unpack_tar(io.BytesIO(data), tmp_path, UnpackOptions(fmt=ROOTLESS_FORMAT))
    assert (tmp_path / "keep").is_file()
    st = os.lstat(tmp_path / "gone")
    assert stat.S_ISCHR(st.st_mode) and st.st_rdev == 0
    assert os.getxattr(tmp_path / "redo", "user.overlay.opaque") == b"y"
    assert os.getxattr(tmp_path / "o", "user.overlay.opaque") == b"y"
    assert (tmp_path / "o/a").is_file() and (tmp_path / "redo/x").is_file()
