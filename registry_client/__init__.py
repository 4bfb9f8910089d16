"""pybuild's registry client: pull and push OCI/Docker images (ARCHITECTURE §9).

Public API (imported lazily, so `registry_client.errors` stays cheap to import):
`Reference`, `RegistryClient`, `pull_image`, `push_image`, `fetch_blobs`, `push_blobs`,
`PushOptions`, `RegistryError`, `ProgressEvent`, `TransportOptions`.

    from registry_client import RegistryClient, pull_image, push_image
    client = RegistryClient(insecure=("reg.lan:5000",))      # one per build is fine
    res = pull_image(store, "busybox", platform="linux/arm64", client=client,
                     progress=print)                          # -> PullResult
    push_image(store, res.manifest, "127.0.0.1:5000/app:1", tags=["latest"],
               client=client)                                 # -> PushResult

Both take a `store.layout.Store`; errors are `RegistryError`s whose str() is the one
line the CLI prints (`push 127.0.0.1:5000/app:1: 401 UNAUTHORIZED (...)`), but for a
name that does not parse: `store.errors.InvalidReference` (`Reference` is
`store.oci.reference.Reference`)."""

from __future__ import annotations

import importlib
from typing import Any

_EXPORTS = {
    "Reference": "store.oci.reference",
    "RegistryClient": "registry_client.client",
    "pull_image": "registry_client.pull",
    "PullResult": "registry_client.pull",
    "push_image": "registry_client.push",
    "push_blobs": "registry_client.push",
    "fetch_blobs": "registry_client.pull",
    "PushOptions": "registry_client.push",
    "PushResult": "registry_client.push",
    "RegistryError": "registry_client.errors",
    "ProgressEvent": "registry_client.progress",
    "TransportOptions": "registry_client.transport",
}

__all__ = sorted(_EXPORTS)


def __getattr__(name: str) -> Any:
    mod = _EXPORTS.get(name)
    if mod is None:
        raise AttributeError(name)
    return getattr(importlib.import_module(mod), name)
