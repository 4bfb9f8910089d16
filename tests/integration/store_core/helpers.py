"""Helpers for the store-core tests: tiny images, hand-made archives, tar readers."""

from __future__ import annotations

import gzip
import hashlib
import io
import json
import tarfile
from pathlib import Path

from store.image import write_image
from store.layout import Store
from store.oci.config import ContainerConfig, History, ImageConfig
from store.oci.digest import Descriptor, Digest
from store.oci.mediatype import OCI_LAYER_GZIP


def tar_bytes(files: dict[str, bytes], *, extra: list[tarfile.TarInfo] | None = None) -> bytes:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=tarfile.PAX_FORMAT) as tf:
        for name, data in files.items():
            ti = tarfile.TarInfo(name)
            ti.size, ti.mtime, ti.mode = len(data), 1700000000, 0o644
            tf.addfile(ti, io.BytesIO(data))
        for ti in extra or []:
            tf.addfile(ti)
    return buf.getvalue()


def small_image(store: Store, tag: str | None, seed: str = "x", layers: int = 1) -> Descriptor:
    """An image with `layers` gzip layers whose content depends on `seed`."""
    descs, diff_ids = [], []
    for i in range(layers):
        raw = tar_bytes({f"f{i}-{seed}": f"{seed}-{i}".encode() * 10})
        descs.append(store.blobs.put_bytes(gzip.compress(raw, mtime=0), OCI_LAYER_GZIP))
        diff_ids.append(Digest.of_bytes(raw))
    cfg = ImageConfig(
        config=ContainerConfig(cmd=("sh",), env=(f"SEED={seed}",)),
        diff_ids=tuple(diff_ids),
        created="2024-01-01T00:00:00Z",
        history=tuple(History(created_by=f"layer {i}") for i in range(layers)),
    )
    d = write_image(store, cfg, descs, tags=[tag] if tag else ())
    if tag is None:
        store.refs.add_root(d)
    return d


def members(data_or_path: bytes | Path) -> dict[str, bytes]:
    """Regular files of a tar (small archives only)."""
    f = io.BytesIO(data_or_path) if isinstance(data_or_path, bytes) else open(data_or_path, "rb")
    out = {}
    with f, tarfile.open(fileobj=f, mode="r:*") as tf:
        for ti in tf:
            if ti.isfile():
                out[ti.name] = tf.extractfile(ti).read()  # type: ignore[union-attr]
    return out


def legacy_docker_save(tag: str, layer_tars: list[bytes]) -> bytes:
    """A `docker save` (pre-25) archive: <id>/layer.tar, <config>.json, repositories,
    with the second copy of a repeated layer as a symlink, as docker writes it."""
    diff_ids = ["sha256:" + hashlib.sha256(t).hexdigest() for t in layer_tars]
    cfg = json.dumps(
        {
            "architecture": "amd64",
            "os": "linux",
            "config": {"Cmd": ["sh"]},
            "rootfs": {"type": "layers", "diff_ids": diff_ids},
        }
    ).encode()
    cfg_hex = hashlib.sha256(cfg).hexdigest()
    buf = io.BytesIO()
    paths = []
    with tarfile.open(fileobj=buf, mode="w") as tf:

        def add(name: str, data: bytes) -> None:
            ti = tarfile.TarInfo(name)
            ti.size = len(data)
            tf.addfile(ti, io.BytesIO(data))

        first_of: dict[str, str] = {}
        for i, (t, d) in enumerate(zip(layer_tars, diff_ids, strict=True)):
            lid = hashlib.sha256(f"{i}{d}".encode()).hexdigest()
            ti = tarfile.TarInfo(lid)
            ti.type = tarfile.DIRTYPE
            tf.addfile(ti)
            if d in first_of:
                ln = tarfile.TarInfo(f"{lid}/layer.tar")
                ln.type, ln.linkname = tarfile.SYMTYPE, f"../{first_of[d]}/layer.tar"
                tf.addfile(ln)
            else:
                add(f"{lid}/layer.tar", t)
                first_of[d] = lid
            add(f"{lid}/VERSION", b"1.0")
            add(f"{lid}/json", b'{"id":"' + lid.encode() + b'"}')
            paths.append(f"{lid}/layer.tar")
        add(f"{cfg_hex}.json", cfg)
        add(
            "manifest.json",
            json.dumps(
                [{"Config": f"{cfg_hex}.json", "RepoTags": [tag], "Layers": paths}]
            ).encode(),
        )
        repo, _, t = tag.rpartition(":")
        add("repositories", json.dumps({repo: {t: paths[-1].split("/")[0]}}).encode())
    return buf.getvalue()


def visible_state(store: Store) -> tuple[set[str], list[str]]:
    """(blob hexes, tmp entries): what a failed operation must not leave behind."""
    blobs = {d.hex for d in store.blobs.iter_digests()}
    return blobs, sorted(p.name for p in store.tmpdir().iterdir())
