"""The expander's one error."""

from __future__ import annotations

from builder.errors import BuildError


class ExpansionError(BuildError):
    """A word could not be expanded (bad substitution, unterminated quote, `${V:?}`)."""

    exit_code = 2
