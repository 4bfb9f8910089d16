"""registry_client/endpoint.py: where a reference is served (Docker Hub's API host),
its token scope, and the `<reference>` of its manifest URL."""

from __future__ import annotations

from registry_client.endpoint import DOCKER_HUB_API, api_host, manifest_reference, scope
from store.oci.digest import Digest
from store.oci.reference import Reference

D = "sha256:" + "a" * 64


def test_docker_hub_is_served_by_registry_1():
    assert api_host(Reference.parse("busybox").domain) == DOCKER_HUB_API == "registry-1.docker.io"
    assert api_host(Reference.parse("127.0.0.1:5000/a:1").domain) == "127.0.0.1:5000"
    assert api_host(Reference.parse("registry-1.docker.io/a/b").domain) == DOCKER_HUB_API


def test_scope_and_manifest_reference():
    r = Reference.parse("busybox:1.36")
    assert scope(r) == "repository:library/busybox:pull"
    assert scope(r, "pull,push") == "repository:library/busybox:pull,push"
    assert manifest_reference(r) == "1.36"
    assert manifest_reference(r.with_digest(Digest.parse(D))) == D
    assert manifest_reference(Reference.parse(f"busybox@{D}")) == D
