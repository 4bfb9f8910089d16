"""Value types of store/oci/digest.py: round trips (hypothesis) and the verifying reader."""

from __future__ import annotations

import hashlib
import io

import pytest
from hypothesis import given
from hypothesis import strategies as st

from store.errors import DigestMismatch, InvalidDigest, SizeMismatch
from store.oci.digest import (
    EMPTY_SHA256,
    Descriptor,
    Digest,
    HashingWriter,
    VerifyingReader,
    chain_ids,
)
from store.oci.platform import Platform

algs = st.sampled_from(["sha256", "sha384", "sha512"])
digests = st.builds(
    lambda a, b: Digest(a, hashlib.new(a, b).hexdigest()), algs, st.binary(max_size=64)
)
media_types = st.from_regex(r"\A[a-z][a-z0-9.+-]{0,20}/[a-z][a-z0-9.+-]{0,30}\Z")
annotations = st.dictionaries(st.text(min_size=1, max_size=10), st.text(max_size=10), max_size=3)
platforms = st.builds(
    Platform,
    os=st.sampled_from(["linux", "windows"]),
    architecture=st.sampled_from(["amd64", "arm64", "arm"]),
    variant=st.sampled_from(["", "v7", "v8"]),
)
descriptors = st.builds(
    Descriptor,
    media_type=media_types,
    digest=digests,
    size=st.integers(0, 2**62),
    annotations=annotations,
    platform=st.none() | platforms,
    urls=st.lists(st.sampled_from(["https://example.com/a", "http://x/y"]), max_size=2).map(tuple),
    data=st.none() | st.binary(max_size=20),
)


@given(digests)
def test_digest_parse_str_round_trip(d: Digest) -> None:
    assert Digest.parse(str(d)) == d


@given(descriptors)
def test_descriptor_json_round_trip(d: Descriptor) -> None:
    assert Descriptor.from_json(d.to_json()) == d


@given(platforms)
def test_platform_json_round_trip(p: Platform) -> None:
    assert Platform.from_json(p.to_json()) == p


@given(st.text(max_size=80))
def test_digest_parse_never_crashes_otherwise(text: str) -> None:
    try:
        d = Digest.parse(text)
    except InvalidDigest:
        return
    assert str(d) == text


@pytest.mark.parametrize(
    "bad",
    [
        "",
        "sha256",
        ":abc",
        "SHA256:" + "a" * 64,
        "sha256:" + "A" * 64,
        "sha256:" + "a" * 63,
        "sha512:" + "a" * 64,
        "sha256+foo+-b:abc",
    ],
)
def test_digest_rejects(bad: str) -> None:
    with pytest.raises(InvalidDigest):
        Digest.parse(bad)


def test_unknown_algorithm_parses_but_cannot_verify() -> None:
    d = Digest.parse("multihash+base58:QmRZxt2b1FVZPNqd8hsiykDL3TdBDeTSPX9Kv46HmX4Gx8")
    assert not d.verifiable
    with pytest.raises(InvalidDigest):
        d.hasher()


@given(st.binary(max_size=5000), st.integers(1, 700))
def test_verifying_reader_accepts_good_stream(data: bytes, chunk: int) -> None:
    r = VerifyingReader(io.BytesIO(data), Digest.of_bytes(data), len(data))
    out = b""
    while c := r.read(chunk):
        out += c
    assert out == data and r.bytes_read == len(data)


@given(st.binary(min_size=1, max_size=2000), st.data())
def test_verifying_reader_flipped_byte(data: bytes, draw: st.DataObject) -> None:
    i = draw.draw(st.integers(0, len(data) - 1))
    bad = data[:i] + bytes([data[i] ^ 0x01]) + data[i + 1 :]
    r = VerifyingReader(io.BytesIO(bad), Digest.of_bytes(data), len(data))
    with pytest.raises(DigestMismatch):
        while r.read(100):
            pass


def test_verifying_reader_short_and_long() -> None:
    data = b"x" * 100
    r = VerifyingReader(io.BytesIO(data[:50]), Digest.of_bytes(data), 100)
    with pytest.raises(SizeMismatch) as e:
        while r.read(10):
            pass
    assert (e.value.expected, e.value.actual) == (100, 50)
    # An endless body fails as soon as it passes the claimed size.
    r = VerifyingReader(io.BytesIO(data * 1000), Digest.of_bytes(data), 100)
    with pytest.raises(SizeMismatch):
        while r.read(64):
            pass
    assert r.bytes_read <= 101


def test_verifying_reader_empty() -> None:
    r = VerifyingReader(io.BytesIO(b""), EMPTY_SHA256, 0)
    assert r.read() == b""
    r.verify()


def test_hashing_writer_and_chain_ids() -> None:
    sink = io.BytesIO()
    w = HashingWriter(sink)
    w.write(b"abc")
    w.write(memoryview(b"def"))
    assert sink.getvalue() == b"abcdef" and w.size == 6
    assert w.digest == Digest.of_bytes(b"abcdef")
    a, b = Digest.of_bytes(b"1"), Digest.of_bytes(b"2")
    assert chain_ids([a, b]) == [a, Digest.of_bytes(f"{a} {b}".encode())]


@pytest.mark.parametrize(
    "text,want",
    [  # containerd's platforms.Parse + Normalize
        ("linux/amd64", "linux/amd64"),
        ("linux/x86_64", "linux/amd64"),
        ("LINUX/X86-64", "linux/amd64"),
        ("linux/amd64/v1", "linux/amd64"),
        ("linux/amd64/v3", "linux/amd64/v3"),
        ("linux/arm64/v8", "linux/arm64"),
        ("linux/aarch64", "linux/arm64"),
        ("linux/arm64/9", "linux/arm64/v9"),
        ("linux/arm", "linux/arm/v7"),
        ("linux/arm/7", "linux/arm/v7"),
        ("linux/arm/6", "linux/arm/v6"),
        ("linux/armhf", "linux/arm/v7"),
        ("linux/armel", "linux/arm/v6"),
        ("linux/i386", "linux/386"),
        ("amd64", "linux/amd64"),
        ("arm64", "linux/arm64"),
        ("linux/riscv64", "linux/riscv64"),
    ],
)
def test_platform_parse(text: str, want: str) -> None:
    assert str(Platform.parse(text)) == want


def test_a_lone_os_takes_the_hosts_architecture() -> None:
    from store.oci.platform import host_platform

    host = host_platform()
    assert Platform.parse("windows") == Platform("windows", host.architecture, host.variant)


@pytest.mark.parametrize("text", ["", "a/b/c/d", "linux//amd64", "linux/amd64,linux/arm64"])
def test_platform_parse_refuses_what_is_no_platform(text: str) -> None:
    with pytest.raises(ValueError, match="invalid platform"):
        Platform.parse(text)


def test_the_front_end_and_the_store_normalise_platforms_alike() -> None:
    from builder.frontend.args import normalize_platform

    for text in ("linux/x86_64", "linux/arm", "arm64", "linux/arm64/v8"):
        assert normalize_platform(text) == str(Platform.parse(text))
