"""Reading built images back for assertions: config, history, and the merged root
filesystem tree computed from the layer tars (whiteouts and opaque dirs applied)."""

from __future__ import annotations

import hashlib
import json
import tarfile
from pathlib import Path
from typing import Any

from store.compress import open_decompressed
from store.image import resolve_image
from store.layout import open_store

WH = ".wh."
OPQ = ".wh..wh..opq"


def image(root: Path, name: str) -> Any:
    return resolve_image(open_store(root), name)


def config(root: Path, name: str) -> dict[str, Any]:
    return image(root, name).config().to_json()


def _clean(name: str) -> str:
    while name.startswith("./"):
        name = name[2:]
    return name.lstrip("/").rstrip("/")


def _apply(tree: dict[str, dict[str, Any]], tf: tarfile.TarFile) -> None:
    for ti in tf:
        name = _clean(ti.name)
        if not name:
            continue
        base = name.rsplit("/", 1)[-1]
        parent = name.rsplit("/", 1)[0] if "/" in name else ""
        if base == OPQ:
            for p in [p for p in tree if p.startswith(parent + "/")]:
                del tree[p]
            continue
        if base.startswith(WH):
            gone = (parent + "/" if parent else "") + base[len(WH) :]
            for p in [p for p in tree if p == gone or p.startswith(gone + "/")]:
                del tree[p]
            continue
        entry: dict[str, Any] = {
            "type": ti.type.decode() if isinstance(ti.type, bytes) else ti.type,
            "mode": ti.mode & 0o7777,
            "uid": ti.uid,
            "gid": ti.gid,
            "link": ti.linkname,
            "size": ti.size if ti.isreg() else 0,
        }
        if ti.isreg():
            f = tf.extractfile(ti)
            entry["sha"] = hashlib.sha256(f.read() if f else b"").hexdigest()
        if ti.islnk():
            target = tree.get(_clean(ti.linkname), {})
            entry.update({k: target.get(k) for k in ("sha", "size")})
        if not ti.isdir() or name not in tree:
            tree[name] = entry
        else:
            tree[name].update(entry)


def rootfs(root: Path, name: str) -> dict[str, dict[str, Any]]:
    """path -> {type, mode, uid, gid, size, sha, link} of the image's merged rootfs."""
    img = image(root, name)
    store = open_store(root)
    tree: dict[str, dict[str, Any]] = {}
    for layer in img.manifest().layers:
        with store.blobs.open(layer.digest, layer.size) as raw:
            plain = open_decompressed(raw)
            with tarfile.open(fileobj=plain, mode="r|") as tf:
                _apply(tree, tf)
    return tree


def layer_files(root: Path, name: str, index: int) -> list[str]:
    img = image(root, name)
    store = open_store(root)
    layer = img.manifest().layers[index]
    with store.blobs.open(layer.digest, layer.size) as raw:
        with tarfile.open(fileobj=open_decompressed(raw), mode="r|") as tf:
            return [ti.name for ti in tf]


def read_file(root: Path, name: str, path: str) -> bytes:
    """The content of `path` in the image (last layer that has it)."""
    img = image(root, name)
    store = open_store(root)
    found = None
    for layer in img.manifest().layers:
        with store.blobs.open(layer.digest, layer.size) as raw:
            with tarfile.open(fileobj=open_decompressed(raw), mode="r|") as tf:
                for ti in tf:
                    if _clean(ti.name) == path.lstrip("/") and ti.isreg():
                        f = tf.extractfile(ti)
                        found = f.read() if f else b""
    if found is None:
        raise FileNotFoundError(path)
    return found


def events(text: str) -> list[dict[str, Any]]:
    return [json.loads(line) for line in text.splitlines() if line.startswith("{")]
