"""Image references as docker parses them: `[host[:port]/]path[:tag][@digest]`.

Owns parsing, validation (the distribution-spec regexps), normalisation
(`busybox` -> `docker.io/library/busybox:latest`), the API host (`registry-1.docker.io`
for Docker Hub) and the familiar short form the store uses for tags.
`Reference.parse(str(r)) == r` for every valid reference.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, replace

from registry_client.errors import InvalidReference
from store.errors import InvalidDigest
from store.oci.digest import Digest

DOCKER_HUB = "docker.io"
DOCKER_HUB_API = "registry-1.docker.io"
DOCKER_HUB_LEGACY = ("index.docker.io", "registry-1.docker.io")
DEFAULT_TAG = "latest"
MAX_NAME = 255

# distribution-spec regexps (conformance/distribution-spec/regexps.txt), anchored.
NAME_RE = re.compile(r"[a-z0-9]+((\.|_|__|-+)[a-z0-9]+)*(\/[a-z0-9]+((\.|_|__|-+)[a-z0-9]+)*)*")
TAG_RE = re.compile(r"[a-zA-Z0-9_][a-zA-Z0-9._-]{0,127}")
# docker's domain grammar: dotted labels or an IPv6 literal in brackets, optional port.
_LABEL = r"(?:[a-zA-Z0-9]|[a-zA-Z0-9][a-zA-Z0-9-]*[a-zA-Z0-9])"
DOMAIN_RE = re.compile(rf"(?:{_LABEL}(?:\.{_LABEL})*|\[[0-9a-fA-F:.]+\])(?::[0-9]+)?")


@dataclass(frozen=True, order=True)
class Reference:
    """A fully qualified reference. `tag` is "" only when `digest` pins the content."""

    registry: str
    repository: str
    tag: str = ""
    digest: Digest | None = None

    @classmethod
    def parse(cls, unsafe_text: str, *, default_tag: str = DEFAULT_TAG) -> Reference:
        """Parse and normalise as docker does; raises `InvalidReference` (exit code 2)."""
        text = unsafe_text.strip() if isinstance(unsafe_text, str) else ""
        if not text:
            raise InvalidReference(str(unsafe_text), "empty reference")
        rest, digest = text, None
        if "@" in rest:
            rest, _, dpart = rest.partition("@")
            try:
                digest = Digest.parse(dpart)
            except InvalidDigest as e:
                raise InvalidReference(text, f"bad digest: {e.why}") from None
            if not getattr(digest, "verifiable", True):
                raise InvalidReference(text, f"unsupported digest algorithm {digest.algorithm!r}")
        tag = ""
        slash = rest.rfind("/")
        colon = rest.rfind(":")
        if colon > slash:
            rest, tag = rest[:colon], rest[colon + 1 :]
            if not TAG_RE.fullmatch(tag):
                raise InvalidReference(text, f"invalid tag {tag!r}")
        registry, path = _split_domain(rest, text)
        if not NAME_RE.fullmatch(path):
            raise InvalidReference(
                text,
                f"invalid repository name {path!r}"
                + (" (must be lowercase)" if path.lower() != path else ""),
            )
        if len(registry) + 1 + len(path) > MAX_NAME and registry != DOCKER_HUB:
            raise InvalidReference(text, f"name longer than {MAX_NAME} characters")
        if not tag and digest is None:
            tag = default_tag
        return cls(registry, path, tag, digest)

    # --- views ---------------------------------------------------------------

    @property
    def name(self) -> str:
        """`registry/repository`, the reference without tag or digest."""
        return f"{self.registry}/{self.repository}"

    @property
    def api_host(self) -> str:
        """The host:port that serves the registry API (Docker Hub is special)."""
        return DOCKER_HUB_API if self.registry == DOCKER_HUB else self.registry

    @property
    def reference(self) -> str:
        """What goes after `/manifests/`: the digest if pinned, else the tag."""
        return str(self.digest) if self.digest is not None else self.tag

    def with_tag(self, tag: str) -> Reference:
        if not TAG_RE.fullmatch(tag):
            raise InvalidReference(tag, "invalid tag")
        return replace(self, tag=tag, digest=None)

    def with_digest(self, digest: Digest) -> Reference:
        return replace(self, digest=digest)

    def in_repository(self, repository: str) -> Reference:
        return replace(self, repository=repository)

    def scope(self, actions: str = "pull") -> str:
        """The bearer-token scope for this repository."""
        return f"repository:{self.repository}:{actions}"

    def familiar(self) -> str:
        """The short form docker prints and the store tags with (`busybox:latest`)."""
        name = self.name
        if self.registry == DOCKER_HUB:
            name = (
                self.repository.removeprefix("library/")
                if self.repository.count("/") == 1
                else self.repository
            )
        return name + _suffix(self.tag, self.digest)

    def __str__(self) -> str:
        return self.name + _suffix(self.tag, self.digest)


def _suffix(tag: str, digest: Digest | None) -> str:
    return (f":{tag}" if tag else "") + (f"@{digest}" if digest is not None else "")


def _split_domain(rest: str, text: str) -> tuple[str, str]:
    first, sep, remainder = rest.partition("/")
    is_domain = bool(sep) and (
        any(c in first for c in ".:")
        or first == "localhost"
        or first.lower() != first
        or first.startswith("[")
    )
    if not is_domain:
        registry, path = DOCKER_HUB, rest
    else:
        if not DOMAIN_RE.fullmatch(first):
            raise InvalidReference(text, f"invalid registry host {first!r}")
        registry, path = first, remainder
    if registry in DOCKER_HUB_LEGACY:
        registry = DOCKER_HUB
    if registry == DOCKER_HUB and "/" not in path:
        path = f"library/{path}"
    return registry, path


def parse(unsafe_text: str) -> Reference:
    return Reference.parse(unsafe_text)
