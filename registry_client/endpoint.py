"""Where a `store.oci.reference.Reference` lives on the wire: the host that serves its
registry API (Docker Hub's is `registry-1.docker.io`, not the `docker.io` of its
names), the bearer-token scope of its repository, and the `<reference>` of its
manifest URL (`/v2/<name>/manifests/<reference>`)."""

from __future__ import annotations

from store.oci.reference import DEFAULT_DOMAIN, Reference

DOCKER_HUB_API = "registry-1.docker.io"


def api_host(domain: str) -> str:
    """The host[:port] that serves the registry API for names under `domain`."""
    return DOCKER_HUB_API if domain == DEFAULT_DOMAIN else domain


def scope(ref: Reference, actions: str = "pull") -> str:
    """The bearer-token scope for `ref`'s repository."""
    return f"repository:{ref.repository}:{actions}"


def manifest_reference(ref: Reference) -> str:
    """What goes after `/manifests/`: the digest when pinned, else the tag."""
    return str(ref.digest) if ref.digest is not None else ref.tag
