"""Hostile contexts: nothing outside the context is ever read or written."""

from __future__ import annotations

import os
import socket
import threading
from pathlib import Path

import pytest

from builder.context import SourceNotFound, SourceTree, TooManyLinks
from builder.copy import CopyOptions, copy_into, source_hash
from builder.filehash import FileHashCache
from tests.integration.copy.treeutil import make_tree, read_tree

pytestmark = pytest.mark.root  # ownership checks need root (CI runs as root)


@pytest.fixture
def secret(tmp_path: Path) -> Path:
    p = tmp_path / "host-secret"
    p.write_text("TOP-SECRET-HOST-CONTENT")
    os.chmod(p, 0o600)
    return p


def _all_bytes(root: Path) -> bytes:
    out = b""
    for dirpath, _, files in os.walk(root):
        for f in files:
            p = Path(dirpath) / f
            if not p.is_symlink() and p.is_file():
                out += p.read_bytes()
    return out


def test_symlinks_to_host_files_never_leak(tmp_path: Path, secret: Path) -> None:
    ctx = make_tree(
        tmp_path / "ctx",
        {
            "shadow": ("link", "/etc/shadow"),
            "sec": ("link", str(secret)),
            "rel": ("link", "../host-secret"),
            "d/deep": ("link", "../../host-secret"),
            "ok.txt": "ok",
        },
    )
    target = tmp_path / "t"
    target.mkdir()
    tree = SourceTree.context(ctx)
    copy_into(tree, ["."], "/all/", str(target), CopyOptions())
    got = read_tree(target)
    assert got["all/shadow"][4] == "/etc/shadow" and got["all/sec"][0] == "link"
    assert got["all/d/deep"] == ("link", 0, 0, 0, "../../host-secret")
    for name in ("shadow", "sec", "rel", "d/deep"):
        with pytest.raises(SourceNotFound):
            copy_into(tree, [name], f"/one-{name.replace('/', '_')}", str(target), CopyOptions())
    assert b"SECRET" not in _all_bytes(target)
    assert b"root:" not in _all_bytes(target)
    # the hash does not read through them either
    cache = FileHashCache()
    source_hash(tree, ["."], CopyOptions(), cache)
    assert cache.opens == 1 and cache.bytes_read == 2


def test_relative_symlink_climbing_out_resolves_inside(tmp_path: Path, secret: Path) -> None:
    # BuildKit scopes `..` at the context root: ../host-secret is CONTEXT/host-secret
    ctx = make_tree(
        tmp_path / "ctx", {"host-secret": "inside", "rel": ("link", "../../host-secret")}
    )
    target = tmp_path / "t"
    target.mkdir()
    copy_into(SourceTree.context(ctx), ["rel"], "/r", str(target), CopyOptions())
    assert (target / "r").read_text() == "inside"


def test_symlink_loops(tmp_path: Path) -> None:
    ctx = make_tree(
        tmp_path / "ctx",
        {"l1": ("link", "l2"), "l2": ("link", "l1"), "self": ("link", "self/x"), "f": "f"},
    )
    target = tmp_path / "t"
    target.mkdir()
    tree = SourceTree.context(ctx)
    for src in ("l1", "self"):
        with pytest.raises(TooManyLinks) as info:
            copy_into(tree, [src], "/x", str(target), CopyOptions())
        assert "too many levels of symbolic links" in str(info.value)
    copy_into(tree, ["."], "/all/", str(target), CopyOptions())
    assert read_tree(target)["all/l1"] == ("link", 0, 0, 0, "l2")


def test_fifo_copied_as_fifo_socket_skipped(tmp_path: Path) -> None:
    ctx = make_tree(tmp_path / "ctx", {"f": "f"})
    os.mkfifo(ctx / "pipe", 0o640)
    sock = socket.socket(socket.AF_UNIX)
    sock.bind(str(ctx / "sock"))
    target = tmp_path / "t"
    target.mkdir()
    tree = SourceTree.context(ctx)
    done = threading.Event()

    def run() -> None:
        copy_into(tree, ["."], "/all/", str(target), CopyOptions())
        source_hash(tree, ["."], CopyOptions(), FileHashCache())
        done.set()

    t = threading.Thread(target=run, daemon=True)
    t.start()
    t.join(10)
    sock.close()
    assert done.is_set(), "copy blocked on a FIFO"
    got = read_tree(target)
    assert got["all/pipe"] == ("fifo", 0o640, 0, 0, None)
    assert "all/sock" not in got
    with pytest.raises(SourceNotFound):
        copy_into(tree, ["sock"], "/s", str(target), CopyOptions())


def test_target_symlinks_are_not_written_through(tmp_path: Path, secret: Path) -> None:
    ctx = make_tree(tmp_path / "ctx", {"dir/host-secret": "overwrite!", "x": "x"})
    target = make_tree(
        tmp_path / "t", {"dir": ("link", str(tmp_path)), "app/x": ("link", str(secret))}
    )
    copy_into(SourceTree.context(ctx), ["x"], "/app/x", str(target), CopyOptions())
    assert secret.read_text() == "TOP-SECRET-HOST-CONTENT"
    # BuildKit (fs.RootPath) follows the dest symlink, scoped: it lands inside the root
    assert os.readlink(target / "app/x") == str(secret)
    assert (target / str(secret).lstrip("/")).read_text() == "x"
    # a dir symlink in the target is scoped: /dir -> tmp_path resolves inside the root
    copy_into(SourceTree.context(ctx), ["dir"], "/dir/", str(target), CopyOptions())
    assert secret.read_text() == "TOP-SECRET-HOST-CONTENT"
    assert (target / str(tmp_path).lstrip("/") / "host-secret").read_text() == "overwrite!"


def test_very_deep_context(tmp_path: Path) -> None:
    import subprocess

    ctx = tmp_path / "ctx"
    deep = ctx / "/".join(["d"] * 1200)
    target = tmp_path / "t"
    target.mkdir()
    try:
        subprocess.run(["mkdir", "-p", str(deep)], check=True)  # os.makedirs recurses
        (deep / "f").write_text("bottom")
        tree = SourceTree.context(ctx)
        copy_into(tree, ["."], "/", str(target), CopyOptions())
        assert (target / "/".join(["d"] * 1200) / "f").read_text() == "bottom"
        assert (
            len(source_hash(tree, ["."], CopyOptions(), FileHashCache()).manifest) == 1202
        )  # ".", 1,200 dirs, f
    finally:  # shutil.rmtree (pytest's cleanup) recurses per level
        subprocess.run(["rm", "-rf", str(ctx), str(target)], check=True)


def test_symlinks_inside_the_target_tree(tmp_path: Path, secret: Path) -> None:
    from builder.context import CopyError

    ctx = make_tree(tmp_path / "ctx", {"src/x.txt": "new", "src/zlib/m.py": "m"})
    target = make_tree(
        tmp_path / "t", {"app/x.txt": ("link", str(secret)), "app/zlib": ("link", str(tmp_path))}
    )
    tree = SourceTree.context(ctx)
    with pytest.raises(CopyError, match="cannot copy to non-directory: /app/zlib"):
        copy_into(tree, ["src"], "/app/", str(target), CopyOptions())
    assert not (tmp_path / "m.py").exists()
    # the file replaces the symlink itself, as fsutil's ensureEmptyFileTarget does
    assert (target / "app/x.txt").read_text() == "new" and not (target / "app/x.txt").is_symlink()
    assert secret.read_text() == "TOP-SECRET-HOST-CONTENT"
