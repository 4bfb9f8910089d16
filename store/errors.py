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
