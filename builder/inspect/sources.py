"""Open an image for inspection without unpacking it: the store, `oci:DIR[:REF]`,
`oci-archive:FILE[:REF]`, `docker-archive:FILE[:REF]` or a registry reference.

Owns resolving a name to an `ImageSource`: a `store.oci.image.Image` and what to
close when done. Each kind of source is the shared image model's: the store's
`StoredImage`, the in-place readers of `store.readers` (layout directory, oci-archive,
docker-archive; archive members are read where they are, nothing is extracted) and
`remote` for a registry (streamed over HTTP). So every manifest, index and config is
bounded, verified and parsed strictly, an index is resolved with `pick_platform` as
the store resolves it, and every layer is verified as it streams. A source that
cannot be opened is one `SourceError` line.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from builder.inspect.errors import SourceError
from builder.inspect.remote import open_remote
from store.errors import ImageNotFound, StoreError
from store.image import resolve_image
from store.layout import Store, default_root
from store.oci.reference import names_domain
from store.readers.archive import TarMembers, oci_archive_image
from store.readers.docker_archive import docker_archive_image
from store.readers.layout import LayoutDir, layout_image

if TYPE_CHECKING:
    from store.oci.image import Image
    from store.oci.platform import Platform


def _nothing() -> None:
    pass


@dataclass(frozen=True)
class ImageSource:
    """An opened image: the name it was given by, the image, and what closes the
    files or connections it reads from."""

    name: str
    image: Image
    closer: Callable[[], None] = field(default=_nothing, compare=False, repr=False)

    def config(self) -> dict[str, Any]:
        """The config as JSON, as parsed (unknown fields kept)."""
        return self.image.config().to_json()

    @property
    def manifest_digest(self) -> str:
        return str(self.image.digest)

    @property
    def config_digest(self) -> str:
        return str(self.image.manifest().config.digest)

    def close(self) -> None:
        self.closer()

    def __enter__(self) -> ImageSource:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def open_source(
    spec: str, store_root: Path | None = None, platform: Platform | None = None
) -> ImageSource:
    """Resolve `spec` (see module doc) to an image for `platform` (default: this
    host). A bare name is looked up in the store first, then, if it has a registry
    host or is not in the store, streamed from the registry."""
    kind, _, rest = spec.partition(":")
    if kind in ("oci", "oci-archive", "docker-archive") and rest:
        path, ref = _split_ref(rest)
        return _checked(spec, lambda: _open_local(kind, path, ref, platform))
    root = store_root or default_root()
    if (root / "index.json").is_file():
        try:
            return _checked(
                spec, lambda: _open_stored(root, spec, platform), "image not found in the store"
            )
        except SourceError:
            if not _looks_remote(spec):
                raise
    elif not _looks_remote(spec):
        raise SourceError(spec, f"image not found (no store at {root})")
    return _checked(spec, lambda: open_remote(spec, platform))


def _checked(
    spec: str, open_: Callable[[], tuple[Image, Callable[[], None]]], not_found: str = ""
) -> ImageSource:
    """Open, and read the manifest and config now (they are small), so a bad source
    fails here as one line naming it, and not in the middle of the analysis."""
    closer: Callable[[], None] = _nothing
    try:
        image, closer = open_()
        image.layers()
    except StoreError as e:
        closer()
        why = not_found if not_found and isinstance(e, ImageNotFound) else str(e)
        raise SourceError(spec, why) from None
    except BaseException:
        closer()
        raise
    return ImageSource(spec, image, closer)


def _open_local(
    kind: str, path: str, ref: str | None, platform: Platform | None
) -> tuple[Image, Callable[[], None]]:
    if kind == "oci":
        return layout_image(LayoutDir(Path(path)), ref, path, platform), _nothing
    members = TarMembers(path)
    try:
        if kind == "oci-archive":
            return oci_archive_image(members, ref, platform), members.close
        return docker_archive_image(members, ref, platform), members.close
    except BaseException:
        members.close()
        raise


def _open_stored(
    root: Path, spec: str, platform: Platform | None
) -> tuple[Image, Callable[[], None]]:
    """A stored image, through the store's own name resolution (store.refs)."""
    store = Store(root)
    try:
        return resolve_image(store, spec, platform), store.close
    except BaseException:
        store.close()
        raise


def _split_ref(rest: str) -> tuple[str, str | None]:
    """`PATH[:REF]`: the path as given if it exists, else split at the last colon."""
    if os.path.exists(rest):
        return rest, None
    path, sep, ref = rest.rpartition(":")
    if sep and os.path.exists(path):
        return path, ref or None
    return rest, None


def _looks_remote(name: str) -> bool:
    return names_domain(name)
