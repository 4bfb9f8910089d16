"""Archives read in place: `TarMembers` (a plain, seekable tar: its regular members
by clean name, links resolved inside the archive, each opened as a stream of its own
bytes; nothing is extracted) and `OciArchive` (an OCI layout in such a tar, a
`Layout` over its `blobs/<alg>/<hex>` members).

Only the headers are read to open an archive; a member is read when its image asks
for it, and a blob only through `store.readers.blobs`, which bounds and verifies it.
"""

from __future__ import annotations

import os
import stat
import tarfile
from pathlib import Path
from typing import IO, Any

from store.errors import BlobNotFound, InvalidArchive, InvalidImage, SizeMismatch
from store.oci.digest import Descriptor
from store.oci.manifest import Index
from store.oci.platform import Platform
from store.readers.blobs import read_doc
from store.readers.image import BlobImage
from store.readers.layout import layout_image
from store.readers.members import BoundedTarInfo, clean_name, link_target, resolve


class TarMembers:
    """The members of a plain tar file, indexed by their headers."""

    def __init__(self, path: Path | str) -> None:
        self.path = str(path)
        try:  # without blocking: a FIFO is refused below, not waited on
            f = os.fdopen(os.open(path, os.O_RDONLY | os.O_NONBLOCK | os.O_CLOEXEC), "rb")
        except OSError as e:
            raise InvalidArchive(self.path, e.strerror or str(e)) from None
        if not stat.S_ISREG(os.fstat(f.fileno()).st_mode):
            f.close()
            raise InvalidArchive(self.path, "not a regular file")
        try:
            self._tf = tarfile.open(fileobj=f, mode="r:", tarinfo=BoundedTarInfo)
        except tarfile.TarError as e:
            f.close()
            raise InvalidArchive(self.path, f"not a tar archive: {e}") from None
        self._file = f
        self._files: dict[str, tarfile.TarInfo] = {}
        self._links: dict[str, str] = {}
        try:
            for ti in self._tf:
                name = clean_name(ti.name, self.path)
                target = link_target(ti, name, self.path)
                if target is not None:
                    self._links[name] = target
                elif ti.isfile():
                    self._files[name] = ti
        except (tarfile.TarError, EOFError) as e:
            self.close()
            raise InvalidArchive(self.path, f"broken tar: {e}") from None
        except BaseException:
            self.close()
            raise

    def find(self, unsafe_name: str) -> tarfile.TarInfo | None:
        """The regular member `unsafe_name` is or links to; None if there is none."""
        name = clean_name(unsafe_name, self.path)  # one that escapes is refused, not missing
        try:
            return self._files[resolve(name, self._files, self._links, self.path)]
        except InvalidArchive:
            return None

    def get(self, unsafe_name: str) -> tarfile.TarInfo:
        ti = self.find(unsafe_name)
        if ti is None:
            raise InvalidArchive(self.path, f"missing member {unsafe_name!r}")
        return ti

    def open(self, ti: tarfile.TarInfo) -> IO[bytes]:
        """The member's bytes, and no more (tarfile bounds the stream to its size)."""
        f = self._tf.extractfile(ti)
        assert f is not None  # `ti` is a regular member
        return f

    def doc(self, name: str) -> Any:
        """A small JSON document of the archive (index.json, manifest.json), bounded."""
        ti = self.get(name)
        with self.open(ti) as f:
            return read_doc(f, ti.size, name, self.path)

    def close(self) -> None:
        self._tf.close()  # leaves a file it was given open
        self._file.close()

    def __enter__(self) -> TarMembers:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class OciArchive:
    """An OCI layout in a tar (skopeo's and BuildKit's oci-archive, `pybuild save`)."""

    def __init__(self, members: TarMembers) -> None:
        self.members = members

    def index(self) -> Index:
        try:
            return Index.from_json(self.members.doc("index.json"))
        except InvalidImage as e:
            raise InvalidArchive(self.members.path, f"index.json: {e.why}") from None

    def open_blob(self, desc: Descriptor) -> IO[bytes]:
        d = desc.digest
        ti = self.members.find(f"blobs/{d.algorithm}/{d.hex}")
        if ti is None:
            raise BlobNotFound(str(d))
        if ti.size != desc.size:
            raise SizeMismatch(str(d), desc.size, ti.size)
        return self.members.open(ti)


def oci_archive_image(
    members: TarMembers, ref: str | None, platform: Platform | None = None
) -> BlobImage:
    """The image `ref` names in an oci-archive (the only one, without a ref)."""
    return layout_image(OciArchive(members), ref, members.path, platform)
