"""Open an image for inspection without unpacking it: the store, `oci:DIR[:REF]`,
`oci-archive:FILE[:REF]`, `docker-archive:FILE` or a registry reference.

Owns resolving a name to (config JSON, layer descriptors with a way to open each blob
as a stream). Archive members are read in place (tarfile seeks to them); registry blobs
are streamed over HTTP; nothing is written to disk. The store is read as the OCI layout
it is (ARCHITECTURE §5), so this does not depend on store internals.
"""

from __future__ import annotations

import json
import os
import platform
import tarfile
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any, cast

from builder.inspect.errors import SourceError

if TYPE_CHECKING:
    from store.oci.digest import Descriptor

MAX_JSON = 4 << 20
INDEX_TYPES = (
    "application/vnd.oci.image.index.v1+json",
    "application/vnd.docker.distribution.manifest.list.v2+json",
)
REF_NAME = "org.opencontainers.image.ref.name"


@dataclass(frozen=True)
class LayerBlob:
    digest: str
    size: int
    media_type: str
    open: Callable[[], IO[bytes]] = field(compare=False, repr=False)


@dataclass
class ImageSource:
    name: str
    config: dict[str, Any]
    layers: list[LayerBlob]
    manifest_digest: str = ""
    config_digest: str = ""
    _closers: list[Callable[[], None]] = field(default_factory=list, repr=False)

    def close(self) -> None:
        for c in self._closers:
            c()

    def __enter__(self) -> ImageSource:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def default_store_root() -> Path:
    from store.layout import default_root

    return default_root()


def open_source(spec: str, store_root: Path | None = None) -> ImageSource:
    """Resolve `spec` (see module doc). A bare name is looked up in the store first,
    then, if it has a registry host or is not in the store, pulled by streaming."""
    kind, _, rest = spec.partition(":")
    if kind == "oci-archive" and rest:
        path, _, ref = _split_ref(rest)
        return _from_oci_archive(spec, path, ref)
    if kind == "docker-archive" and rest:
        path, _, ref = _split_ref(rest)
        return _from_docker_archive(spec, path)
    if kind == "oci" and rest:
        path, _, ref = _split_ref(rest)
        return _from_layout(spec, Path(path), ref or None)
    root = store_root or default_store_root()
    if (root / "index.json").is_file():
        try:
            return _from_store(spec, root)
        except SourceError:
            if not _looks_remote(spec):
                raise
    elif not _looks_remote(spec):
        raise SourceError(spec, f"image not found (no store at {root})")
    from builder.inspect.remote import open_remote

    return open_remote(spec)


def _from_store(spec: str, root: Path) -> ImageSource:
    """A stored image, through the store's own name resolution (store.refs)."""
    from store.errors import StoreError
    from store.image import resolve_image
    from store.layout import Store

    store = Store(root)

    def opener(d: Descriptor) -> Callable[[], IO[bytes]]:
        # a VerifyingReader is file-like, not an IO: the layer readers only call
        # read() (and close() if present)
        return lambda: cast("IO[bytes]", store.blobs.open(d.digest, d.size))

    try:
        img = resolve_image(store, spec)
        m = img.manifest()
        config = store.blobs.read_json(m.config)
        layers = [LayerBlob(str(d.digest), d.size, d.media_type, opener(d)) for d in m.layers]
    except StoreError as e:
        store.close()
        raise SourceError(
            spec, "image not found in the store" if "not found" in str(e) else str(e)
        ) from None
    return ImageSource(spec, config, layers, str(img.digest), str(m.config.digest), [store.close])


def _split_ref(rest: str) -> tuple[str, str, str]:
    if os.path.exists(rest):
        return rest, "", ""
    path, sep, ref = rest.rpartition(":")
    if sep and os.path.exists(path):
        return path, sep, ref
    return rest, "", ""


def _looks_remote(name: str) -> bool:
    first = name.split("/", 1)[0]
    return "/" in name and ("." in first or ":" in first or first == "localhost")


def _candidates(name: str) -> list[str]:
    out = [name]
    n = name
    if "@" not in n and ":" not in n.rsplit("/", 1)[-1]:
        n += ":latest"
        out.append(n)
    if not _looks_remote(n):
        out.append(("docker.io/library/" if "/" not in n else "docker.io/") + n)
    for prefix in ("docker.io/library/", "docker.io/"):
        if n.startswith(prefix):
            out.append(n[len(prefix) :])
    return out


def _pick_platform(index: dict[str, Any], what: str, load: Callable[[str], Any]) -> dict:
    manifests = index.get("manifests") or []
    arch = {"x86_64": "amd64", "aarch64": "arm64"}.get(platform.machine(), platform.machine())
    for m in manifests:
        p = m.get("platform") or {}
        if p.get("os", "linux") == "linux" and p.get("architecture", arch) == arch:
            return m
    if manifests:
        return manifests[0]
    raise SourceError(what, "empty image index")


def _resolve_manifest(what: str, desc: dict, load: Callable[[str], Any]) -> tuple[dict, str]:
    for _ in range(4):
        doc = load(desc["digest"])
        if desc.get("mediaType") in INDEX_TYPES or doc.get("manifests") is not None:
            desc = _pick_platform(doc, what, load)
            continue
        return doc, desc["digest"]
    raise SourceError(what, "nested indexes are too deep")


def _blob_path(root: Path, digest: str) -> Path:
    alg, _, hexd = digest.partition(":")
    if not alg.isalnum() or not hexd.isalnum():
        raise SourceError(digest, "invalid digest")
    return root / "blobs" / alg / hexd


def _file_opener(path: Path) -> Callable[[], IO[bytes]]:
    return lambda: open(path, "rb")


def _member_opener(tf: tarfile.TarFile, member: tarfile.TarInfo) -> Callable[[], IO[bytes]]:
    # extractfile() is None only for members that are not files (nor links to one);
    # such a "layer" is not caught here: reading it fails later
    return lambda: cast("IO[bytes]", tf.extractfile(member))


def _read_json_file(path: Path, what: str) -> Any:
    try:
        with open(path, "rb") as f:
            data = f.read(MAX_JSON + 1)
    except OSError as e:
        raise SourceError(what, f"cannot read {path.name}: {e.strerror}") from None
    if len(data) > MAX_JSON:
        raise SourceError(what, f"{path.name} is larger than {MAX_JSON} bytes")
    return json.loads(data)


def _from_layout(spec: str, root: Path, ref: str | None) -> ImageSource:
    index = _read_json_file(root / "index.json", spec)
    manifests = index.get("manifests") or []
    desc = None
    if ref is None:
        if len(manifests) != 1:
            raise SourceError(spec, "the layout holds several images; name one with :REF")
        desc = manifests[0]
    else:
        names = _candidates(ref)
        for m in manifests:
            name = (m.get("annotations") or {}).get(REF_NAME, "")
            if name in names:
                desc = m
                break
        if desc is None:
            wanted = ref.removeprefix("sha256:")
            for m in manifests:
                if len(wanted) >= 12 and m["digest"].removeprefix("sha256:").startswith(wanted):
                    desc = m
                    break
    if desc is None:
        raise SourceError(spec, "image not found in the store")

    def load(d: str) -> Any:
        return _read_json_file(_blob_path(root, d), spec)

    manifest, mdigest = _resolve_manifest(spec, desc, load)
    config = load(manifest["config"]["digest"])
    layers = []
    for ld in manifest.get("layers") or []:
        path = _blob_path(root, ld["digest"])
        layers.append(
            LayerBlob(
                ld["digest"],
                int(ld.get("size", 0)),
                ld.get("mediaType", ""),
                _file_opener(path),
            )
        )
    return ImageSource(spec, config, layers, mdigest, manifest["config"]["digest"])


def _from_oci_archive(spec: str, path: str, ref: str) -> ImageSource:
    try:
        tf = tarfile.open(path, "r:")
    except (OSError, tarfile.TarError) as e:
        raise SourceError(spec, f"not a tar archive: {e}") from None
    members = {m.name.removeprefix("./"): m for m in tf.getmembers()}

    def read(name: str) -> Any:
        m = members.get(name)
        if m is None or m.size > MAX_JSON:
            raise SourceError(spec, f"archive has no usable {name}")
        return json.loads(tf.extractfile(m).read())  # type: ignore[union-attr]  # None only for a non-file member

    def blob(d: str) -> str:
        alg, _, hexd = d.partition(":")
        return f"blobs/{alg}/{hexd}"

    index = read("index.json")
    manifests = index.get("manifests") or []
    desc = manifests[0] if manifests else None
    if ref:
        desc = next(
            (
                m
                for m in manifests
                if (m.get("annotations") or {}).get(REF_NAME) in _candidates(ref)
            ),
            None,
        )
    if desc is None:
        raise SourceError(spec, "no matching image in the archive")
    manifest, mdigest = _resolve_manifest(spec, desc, lambda d: read(blob(d)))
    config = read(blob(manifest["config"]["digest"]))
    layers = []
    for ld in manifest.get("layers") or []:
        m = members.get(blob(ld["digest"]))
        if m is None:
            raise SourceError(spec, f"archive lacks layer {ld['digest']}")
        layers.append(
            LayerBlob(ld["digest"], m.size, ld.get("mediaType", ""), _member_opener(tf, m))
        )
    return ImageSource(spec, config, layers, mdigest, manifest["config"]["digest"], [tf.close])


def _from_docker_archive(spec: str, path: str) -> ImageSource:
    try:
        tf = tarfile.open(path, "r:")
    except (OSError, tarfile.TarError) as e:
        raise SourceError(spec, f"not a tar archive: {e}") from None
    members = {m.name.removeprefix("./"): m for m in tf.getmembers()}
    m = members.get("manifest.json")
    if m is None:
        raise SourceError(spec, "not a docker archive (no manifest.json)")
    entries = json.loads(tf.extractfile(m).read())  # type: ignore[union-attr]  # None only for a non-file member
    if not entries:
        raise SourceError(spec, "docker archive holds no image")
    entry = entries[0]
    cm = members.get(entry["Config"])
    if cm is None:
        raise SourceError(spec, "docker archive lacks its config")
    config = json.loads(tf.extractfile(cm).read())  # type: ignore[union-attr]  # None only for a non-file member
    diff_ids = (config.get("rootfs") or {}).get("diff_ids") or []
    layers = []
    for i, name in enumerate(entry.get("Layers") or []):
        lm = members.get(name)
        if lm is None:
            raise SourceError(spec, f"docker archive lacks layer {name}")
        digest = diff_ids[i] if i < len(diff_ids) else name
        layers.append(
            LayerBlob(
                digest,
                lm.size,
                "application/vnd.docker.image.rootfs.diff.tar",
                _member_opener(tf, lm),
            )
        )
    cfg = entry["Config"]
    cdigest = "sha256:" + cfg.rsplit("/", 1)[-1].removesuffix(".json")
    return ImageSource(spec, config, layers, "", cdigest, [tf.close])
