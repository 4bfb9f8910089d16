"""pybuild: a daemonless container image builder.

The package is a seam (PEP 562) for `add`: ADD's URL fetches and archive extraction
(`builder.add`, `builder.local_archive` and every decompressor) load when a build first
meets an ADD, so a build of COPY and RUN steps never imports them.
"""

import importlib
from typing import Any

__version__ = "0.1.0"

_LAZY_MODULES = frozenset({"add"})


def __getattr__(name: str) -> Any:
    if name in _LAZY_MODULES:
        return importlib.import_module(f"{__name__}.{name}")
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
