"""Image references as Docker reads them: `[domain/]repository[:tag][@digest]`.

Owns the one `Reference` value: parsing untrusted text the way distribution/reference's
`ParseNormalizedNamed` does (the domain rule of `splitDockerDomain`, the lowercase
check, the grammar of `regexp.go`), normalisation (`busybox` is
`docker.io/library/busybox:latest`, the tag `latest` added unless a digest pins the
content) and the familiar form Docker prints and the store tags with
(`busybox:latest`). `Reference.parse(str(r)) == r` for every `Reference`.

How a reference is addressed on the wire (Docker Hub's API host, token scopes) is the
registry client's (`registry_client.endpoint`).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, replace

from store.errors import InvalidDigest, InvalidReference
from store.oci.digest import Digest

DEFAULT_DOMAIN = "docker.io"
LEGACY_DEFAULT_DOMAIN = "index.docker.io"  # Docker Hub's old name, read as docker.io
OFFICIAL_PREFIX = "library/"
DEFAULT_TAG = "latest"
MAX_REPOSITORY = 255  # RepositoryNameTotalLengthMax: the path, without the domain
# Not Docker's: a bound on the work done for hostile text. A valid reference is far
# shorter (repository 255, tag 128, digest 135) unless its host name is absurd.
MAX_TEXT = 4096

# The distribution-spec's expressions (its regexps.txt), which match the same names and
# tags as regexp.go's remoteName and `[\w][\w.-]{0,127}` (Go's \w is ASCII).
NAME_RE = re.compile(r"[a-z0-9]+((\.|_|__|-+)[a-z0-9]+)*(\/[a-z0-9]+((\.|_|__|-+)[a-z0-9]+)*)*")
TAG_RE = re.compile(r"[a-zA-Z0-9_][a-zA-Z0-9._-]{0,127}")
# regexp.go's domainAndPort: dotted labels or a bracketed IPv6 address, optional port.
_LABEL = r"(?:[a-zA-Z0-9]|[a-zA-Z0-9][a-zA-Z0-9-]*[a-zA-Z0-9])"
DOMAIN_RE = re.compile(rf"(?:{_LABEL}(?:\.{_LABEL})*|\[[a-fA-F0-9:]+\])(?::[0-9]+)?")
# regexp.go's digestPat; go-digest then checks the algorithm and the length.
DIGEST_RE = re.compile(r"[A-Za-z][A-Za-z0-9]*(?:[-_+.][A-Za-z][A-Za-z0-9]*)*:[0-9a-fA-F]{32,}")
_IDENTIFIER_RE = re.compile(r"[a-f0-9]{64}")


@dataclass(frozen=True)
class Reference:
    """A normalised reference: `domain` is `docker.io` for Docker Hub (whose official
    images are `library/NAME`), `tag` is "" only when `digest` pins the content.
    Built by `parse`, or from fields that are already valid and normalised (else
    `InvalidReference`)."""

    domain: str
    repository: str
    tag: str = ""
    digest: Digest | None = None

    def __post_init__(self) -> None:
        why = _invalid_fields(self.domain, self.repository, self.tag, self.digest)
        if why is None and (self.domain == LEGACY_DEFAULT_DOMAIN or _hub_short(self)):
            why = "not normalised (parse it)"
        if why is None and not self.tag and self.digest is None:
            why = "neither a tag nor a digest"
        if why is not None:
            raise InvalidReference(_render(self), why)

    @classmethod
    def parse(cls, unsafe_text: str) -> Reference:
        """Parse and normalise as Docker does; raises `InvalidReference` (exit code 2)."""
        if not isinstance(unsafe_text, str) or not unsafe_text:
            raise InvalidReference(str(unsafe_text), "empty reference")
        text = unsafe_text
        if len(text) > MAX_TEXT:
            raise InvalidReference(text[:80] + "...", f"longer than {MAX_TEXT} characters")
        if _IDENTIFIER_RE.fullmatch(text):
            raise InvalidReference(text, "cannot specify 64-byte hexadecimal strings")
        domain, remainder = _split_domain(text)
        # ParseNormalizedNamed's check: the remote name, up to the first ":", as given
        remote = remainder.partition(":")[0]
        if remote.lower() != remote:
            raise InvalidReference(text, "repository name must be lowercase")
        rest, at, digest_text = remainder.partition("@")
        repository, colon, tag = rest.partition(":")
        if colon and not tag:
            raise InvalidReference(text, "empty tag")
        digest = _parse_digest(text, digest_text) if at else None
        why = _invalid_fields(domain, repository, tag, digest)
        if why is not None:
            raise InvalidReference(text, why)
        return cls(domain, repository, tag or ("" if digest else DEFAULT_TAG), digest)

    # --- views -------------------------------------------------------------------

    @property
    def name(self) -> str:
        """`domain/repository`: the normalised name, without tag or digest."""
        return f"{self.domain}/{self.repository}"

    @property
    def familiar_name(self) -> str:
        """The name as Docker prints it: no `docker.io/`, no `library/` for an
        official image (`busybox`, `foo/bar`, `127.0.0.1:5000/app`)."""
        if self.domain != DEFAULT_DOMAIN:
            return self.name
        short = self.repository.removeprefix(OFFICIAL_PREFIX)
        return self.repository if "/" in short else short

    def familiar(self) -> str:
        """The familiar form with tag and digest, the store's tag (`busybox:latest`)."""
        return self.familiar_name + _suffix(self.tag, self.digest)

    def with_tag(self, tag: str) -> Reference:
        """This repository at `tag`, unpinned (any digest dropped)."""
        if not TAG_RE.fullmatch(tag):
            raise InvalidReference(f"{self.name}:{tag}", f"invalid tag {tag!r}")
        return replace(self, tag=tag, digest=None)

    def with_digest(self, digest: Digest) -> Reference:
        """This reference pinned to `digest` (the tag is kept, as Docker's WithDigest)."""
        return replace(self, digest=digest)

    def __str__(self) -> str:
        return _render(self)


def names_domain(unsafe_text: str) -> bool:
    """Whether `unsafe_text` starts with a registry host by Docker's rule (see
    `_split_domain`), `docker.io/...` included; says nothing of its validity."""
    first, slash, _ = unsafe_text.partition("/")
    return bool(slash) and _is_domain(first)


def _split_domain(text: str) -> tuple[str, str]:
    """splitDockerDomain: the first component is a domain when it is `localhost`, holds
    a `.` or a `:`, or has upper case (a Docker Hub namespace cannot); else the name
    is Docker Hub's, where a one-component name is an official image."""
    first, slash, rest = text.partition("/")
    if slash and _is_domain(first):
        domain, remainder = first, rest
        if domain == LEGACY_DEFAULT_DOMAIN:
            domain = DEFAULT_DOMAIN
    else:
        domain, remainder = DEFAULT_DOMAIN, text
    if domain == DEFAULT_DOMAIN and "/" not in remainder:
        remainder = OFFICIAL_PREFIX + remainder
    return domain, remainder


def _is_domain(first: str) -> bool:
    return first == "localhost" or any(c in first for c in ".:") or first.lower() != first


def _parse_digest(text: str, unsafe_digest: str) -> Digest:
    if not DIGEST_RE.fullmatch(unsafe_digest):
        raise InvalidReference(text, f"invalid digest {unsafe_digest!r}")
    try:
        digest = Digest.parse(unsafe_digest)
    except InvalidDigest as e:
        raise InvalidReference(text, f"invalid digest {unsafe_digest!r}: {e.why}") from None
    if not digest.verifiable:
        raise InvalidReference(text, f"unsupported digest algorithm {digest.algorithm!r}")
    return digest


def _invalid_fields(domain: str, repository: str, tag: str, digest: Digest | None) -> str | None:
    """Why these fields are not a reference (None when they are)."""
    if not DOMAIN_RE.fullmatch(domain):
        return f"invalid registry host {domain!r}"
    if not NAME_RE.fullmatch(repository):
        if NAME_RE.fullmatch(repository.lower()):
            return "repository name must be lowercase"
        return f"invalid repository name {repository!r}"
    if len(repository) > MAX_REPOSITORY:
        return f"repository name must not be more than {MAX_REPOSITORY} characters"
    if tag and not TAG_RE.fullmatch(tag):
        return f"invalid tag {tag!r}"
    if digest is not None and not digest.verifiable:
        return f"unsupported digest algorithm {digest.algorithm!r}"
    return None


def _hub_short(ref: Reference) -> bool:
    return ref.domain == DEFAULT_DOMAIN and "/" not in ref.repository


def _suffix(tag: str, digest: Digest | None) -> str:
    return (f":{tag}" if tag else "") + (f"@{digest}" if digest is not None else "")


def _render(ref: Reference) -> str:
    return f"{ref.domain}/{ref.repository}" + _suffix(ref.tag, ref.digest)
