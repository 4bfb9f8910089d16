"""The store's exception tree. `StoreError` is the root; each leaf carries the
fields a caller needs to explain the failure in one line."""

from __future__ import annotations


class StoreError(Exception):
    """Root of every error raised by `store/`."""


class InvalidDigest(StoreError):
    def __init__(self, text: str, why: str) -> None:
        super().__init__(f"invalid digest {text!r}: {why}")
        self.text = text
        self.why = why


class DigestMismatch(StoreError):
    def __init__(self, expected: str, actual: str) -> None:
        super().__init__(f"digest mismatch: expected {expected}, got {actual}")
        self.expected = expected
        self.actual = actual


class SizeMismatch(StoreError):
    def __init__(self, digest: str, expected: int, actual: int) -> None:
        super().__init__(f"size mismatch for {digest}: expected {expected} bytes, got {actual}")
        self.digest = digest
        self.expected = expected
        self.actual = actual


class BlobNotFound(StoreError):
    def __init__(self, digest: str) -> None:
        super().__init__(f"blob not found: {digest}")
        self.digest = digest


class ImageNotFound(StoreError):
    def __init__(self, name: str) -> None:
        super().__init__(f"image not found: {name}")
        self.name = name


class AmbiguousImage(StoreError):
    """A layout or archive holding several images, opened without a name to pick one."""

    def __init__(self, where: str, count: int) -> None:
        super().__init__(f"{where} holds {count} images; name one with :REF")
        self.where = where
        self.count = count


class UnsafeArchiveEntry(StoreError):
    """A layer tar entry that would escape the root or break a rule of safe unpacking."""

    def __init__(self, entry: str, why: str) -> None:
        super().__init__(f"unsafe archive entry {entry!r}: {why}")
        self.entry = entry
        self.why = why


class NoSpace(StoreError):
    def __init__(self, needed: int | None = None) -> None:
        need = f" (needs ~{max(1, (needed or 0) // (1 << 20))} MB)" if needed else ""
        super().__init__(f"no space left on the store{need}")
        self.needed = needed


class InvalidReference(StoreError):
    """An image name or tag that is not a valid docker/OCI reference."""

    exit_code = 2

    def __init__(self, name: str, why: str) -> None:
        super().__init__(f"invalid reference {name!r}: {why}")
        self.name = name
        self.why = why


class BlobTooLarge(StoreError):
    """A JSON document (manifest, config, index) larger than the bound we read."""

    def __init__(self, digest: str, size: int, limit: int) -> None:
        super().__init__(f"blob {digest} is {size} bytes; refusing to read more than {limit}")
        self.digest = digest
        self.size = size
        self.limit = limit


class CorruptStore(StoreError):
    """The store's layout files (oci-layout, index.json, meta.db) are unreadable."""

    def __init__(self, what: str, why: str) -> None:
        super().__init__(f"corrupt store: {what}: {why}")
        self.what = what
        self.why = why


class InvalidImage(StoreError):
    """A manifest, config or index that does not parse as the spec says."""

    def __init__(self, what: str, why: str) -> None:
        super().__init__(f"invalid image {what}: {why}")
        self.what = what
        self.why = why


class InvalidArchive(StoreError):
    """An archive given to `load`/`import` that is neither OCI nor docker-archive,
    or that is malformed or hostile."""

    def __init__(self, path: str, why: str) -> None:
        super().__init__(f"invalid archive {path}: {why}")
        self.path = path
        self.why = why


class InvalidLayout(InvalidArchive):
    """An OCI layout directory given to read in place that is malformed or hostile."""

    def __init__(self, path: str, why: str) -> None:
        StoreError.__init__(self, f"invalid layout {path}: {why}")
        self.path = path
        self.why = why


class ImageInUse(StoreError):
    """`rmi` of an image that other tags or leases still need (without --force)."""

    def __init__(self, name: str, why: str) -> None:
        super().__init__(f"image {name} is in use: {why}")
        self.name = name
        self.why = why


# --- layers and snapshots -----------------------------------------------------


class SnapshotNotFound(StoreError):
    def __init__(self, key: str) -> None:
        super().__init__(f"snapshot not found: {key}")
        self.key = key


class SnapshotInUse(StoreError):
    def __init__(self, key: str, why: str) -> None:
        super().__init__(f"snapshot {key} is in use: {why}")
        self.key = key
        self.why = why


class MountError(StoreError):
    def __init__(self, target: str, errno_: int, why: str) -> None:
        super().__init__(f"mount {target}: {why}")
        self.target = target
        self.errno = errno_
        self.why = why
