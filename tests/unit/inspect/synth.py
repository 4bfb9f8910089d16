"""Synthetic images for the inspect tests: layer tars built from small specs and
written into a real store with store.image.write_image (or as archives).

An entry spec is a tuple:
  ("file", path, size_or_bytes[, mode[, uid]])  regular file (content derived from path)
  ("dir", path)  ("link", path, target)  ("del", path)  ("opaque", dir)
"""

from __future__ import annotations

import gzip
import hashlib
import io
import json
import tarfile
from pathlib import Path
from typing import Any

from store.image import write_image
from store.layout import open_store
from store.oci.config import ContainerConfig, History, ImageConfig
from store.oci.digest import Digest
from store.oci.mediatype import OCI_LAYER, OCI_LAYER_GZIP, OCI_LAYER_ZSTD

MTIME = 1700000000


def content(path: str, size: int, seed: str = "") -> bytes:
    block = hashlib.sha256((seed + path).encode()).hexdigest().encode()
    return (block * (size // len(block) + 1))[:size]


def layer_tar(entries: list[tuple], seed: str = "") -> bytes:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=tarfile.PAX_FORMAT) as tf:
        for e in entries:
            kind, path = e[0], e[1].lstrip("/")
            ti = tarfile.TarInfo(path)
            ti.mtime = MTIME
            if kind == "file":
                data = e[2] if isinstance(e[2], bytes) else content(path, e[2], seed)
                ti.size = len(data)
                ti.mode = e[3] if len(e) > 3 else 0o644
                ti.uid = ti.gid = e[4] if len(e) > 4 else 0
                tf.addfile(ti, io.BytesIO(data))
            elif kind == "dir":
                ti.type, ti.mode = tarfile.DIRTYPE, 0o755
                tf.addfile(ti)
            elif kind == "link":
                ti.type, ti.linkname, ti.mode = tarfile.SYMTYPE, e[2], 0o777
                tf.addfile(ti)
            elif kind == "del":
                parent, _, base = path.rpartition("/")
                ti.name = f"{parent}/.wh.{base}" if parent else f".wh.{base}"
                tf.addfile(ti, io.BytesIO(b""))
            elif kind == "opaque":
                ti.name = f"{path}/.wh..wh..opq"
                tf.addfile(ti, io.BytesIO(b""))
            else:
                raise ValueError(kind)
    return buf.getvalue()


def compress(data: bytes, how: str) -> tuple[bytes, str]:
    if how == "gzip":
        return gzip.compress(data, mtime=0), OCI_LAYER_GZIP
    if how == "zstd":
        import zstandard

        return zstandard.ZstdCompressor().compress(data), OCI_LAYER_ZSTD
    return data, OCI_LAYER


def store_image(
    root: Path,
    tag: str,
    tars: list[bytes],
    history: list[dict[str, Any]],
    how: str = "gzip",
    env: tuple[str, ...] = (),
) -> Any:
    """Write an image (layers given as uncompressed tars) into the store at `root`."""
    store = open_store(root)
    try:
        descs, diff_ids = [], []
        for t in tars:
            blob, mt = compress(t, how)
            descs.append(store.blobs.put_bytes(blob, mt))
            diff_ids.append(Digest("sha256", hashlib.sha256(t).hexdigest()))
        cfg = ImageConfig(
            config=ContainerConfig(env=env or None),
            diff_ids=tuple(diff_ids),
            history=tuple(History.from_json(h) for h in history),
        )
        return write_image(store, cfg, descs, tags=[tag])
    finally:
        store.close()


def oci_archive(
    path: Path, tars: list[bytes], history: list[dict[str, Any]], how: str = "gzip"
) -> Path:
    """A minimal OCI archive (tar of a layout) holding one image."""
    blobs: dict[str, bytes] = {}

    def put(data: bytes) -> str:
        d = "sha256:" + hashlib.sha256(data).hexdigest()
        blobs[d] = data
        return d

    layers = []
    for t in tars:
        blob, mt = compress(t, how)
        layers.append({"mediaType": mt, "digest": put(blob), "size": len(blob)})
    cfg = json.dumps(
        {
            "architecture": "amd64",
            "os": "linux",
            "config": {},
            "rootfs": {
                "type": "layers",
                "diff_ids": ["sha256:" + hashlib.sha256(t).hexdigest() for t in tars],
            },
            "history": history,
        }
    ).encode()
    man = json.dumps(
        {
            "schemaVersion": 2,
            "mediaType": "application/vnd.oci.image.manifest.v1+json",
            "config": {
                "mediaType": "application/vnd.oci.image.config.v1+json",
                "digest": put(cfg),
                "size": len(cfg),
            },
            "layers": layers,
        }
    ).encode()
    md = put(man)
    index = json.dumps(
        {
            "schemaVersion": 2,
            "manifests": [
                {
                    "mediaType": "application/vnd.oci.image.manifest.v1+json",
                    "digest": md,
                    "size": len(man),
                    "annotations": {"org.opencontainers.image.ref.name": "latest"},
                }
            ],
        }
    )
    with tarfile.open(path, "w") as tf:
        for name, data in [
            ("oci-layout", b'{"imageLayoutVersion":"1.0.0"}'),
            ("index.json", index.encode()),
        ] + [(f"blobs/sha256/{d[7:]}", b) for d, b in blobs.items()]:
            ti = tarfile.TarInfo(name)
            ti.size = len(data)
            tf.addfile(ti, io.BytesIO(data))
    return path


def docker_archive(path: Path, tars: list[bytes], history: list[dict[str, Any]]) -> Path:
    cfg = json.dumps(
        {
            "architecture": "amd64",
            "os": "linux",
            "config": {},
            "rootfs": {
                "type": "layers",
                "diff_ids": ["sha256:" + hashlib.sha256(t).hexdigest() for t in tars],
            },
            "history": history,
        }
    ).encode()
    cid = hashlib.sha256(cfg).hexdigest()
    files = [(f"{cid}.json", cfg)]
    names = []
    for i, t in enumerate(tars):
        names.append(f"l{i}/layer.tar")
        files.append((names[-1], t))
    files.append(
        (
            "manifest.json",
            json.dumps(
                [{"Config": f"{cid}.json", "RepoTags": ["x:latest"], "Layers": names}]
            ).encode(),
        )
    )
    with tarfile.open(path, "w") as tf:
        for name, data in files:
            ti = tarfile.TarInfo(name)
            ti.size = len(data)
            tf.addfile(ti, io.BytesIO(data))
    return path
