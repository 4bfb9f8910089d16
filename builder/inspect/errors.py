"""Errors of the inspect area, rooted at `BuildError` so the CLI prints one line."""

from __future__ import annotations

from builder.errors import BuildError, UsageError


class InspectError(BuildError):
    """Root of inspect errors."""


class LayerFormatError(InspectError):
    """A layer blob that is not a readable (optionally compressed) tar."""


class SourceError(InspectError):
    """An image source (store name, archive, registry ref) that cannot be opened."""

    def __init__(self, source: str, why: str) -> None:
        super().__init__(f"inspect {source}: {why}")
        self.source = source
        self.why = why


class CiConfigError(UsageError):
    """A malformed `.pybuild-ci.yaml` or threshold flag."""
