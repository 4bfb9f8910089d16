"""Tags in index.json, each the familiar form of a store.oci.reference.Reference."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from store.errors import ImageNotFound, InvalidReference
from store.layout import open_store
from store.oci.digest import Descriptor, Digest
from store.oci.mediatype import ANNOTATION_REF_NAME, OCI_MANIFEST
from store.refs import tag_name

D = "sha256:" + "a" * 64


@pytest.mark.parametrize(
    "name,want",
    [
        ("app", "app:latest"),
        ("app:dev", "app:dev"),
        ("docker.io/library/busybox", "busybox:latest"),
        ("index.docker.io/library/busybox:1.36", "busybox:1.36"),
        ("docker.io/foo/bar", "foo/bar:latest"),
        ("library/alpine:3", "alpine:3"),
        ("127.0.0.1:5000/a/b:1", "127.0.0.1:5000/a/b:1"),
        ("localhost/x", "localhost/x:latest"),
        ("a__b/c-d.e:T_1.x-y", "a__b/c-d.e:T_1.x-y"),
    ],
)
def test_tag_name(name: str, want: str) -> None:
    assert tag_name(name) == want
    assert tag_name(want) == want


@pytest.mark.parametrize("bad", ["", "App", "app:", "a b", "a" * 300, f"app@{D}", f"app:1@{D}"])
def test_tag_name_rejects(bad: str) -> None:
    with pytest.raises(InvalidReference):
        tag_name(bad)


def test_tags_follow_docker_where_the_old_parser_did_not(tmp_path: Path) -> None:
    """The store's own parser took a Unicode tag and refused an upper-case host."""
    r = open_store(tmp_path).refs
    with pytest.raises(InvalidReference, match="invalid tag"):
        r.set("app:é", _desc(1))
    r.set("Registry.Example/app", _desc(1))
    r.set("Foo/bar:1", _desc(2))
    assert [n for n, _ in r.list()] == ["Registry.Example/app:latest", "Foo/bar:1"]
    assert r.get("Foo/bar:1").digest == _desc(2).digest


def _desc(n: int) -> Descriptor:
    return Descriptor(OCI_MANIFEST, Digest.of_bytes(str(n).encode()), 100 + n)


def test_refs_set_get_list_delete(tmp_path: Path) -> None:
    s = open_store(tmp_path)
    r = s.refs
    r.set("app", _desc(1))
    r.set("docker.io/library/app:latest", _desc(2))  # same name: replaces
    r.set("127.0.0.1:5000/x:1", _desc(1))
    assert [n for n, _ in r.list()] == ["app:latest", "127.0.0.1:5000/x:1"]
    assert r.get("app").digest == _desc(2).digest
    assert r.get(f"app@{_desc(1).digest}").digest == _desc(1).digest
    assert r.get(str(_desc(1).digest)).digest == _desc(1).digest
    assert r.get(_desc(2).digest.hex[:12]).digest == _desc(2).digest
    doc = json.loads((tmp_path / "index.json").read_text())
    assert doc["schemaVersion"] == 2
    assert doc["manifests"][0]["annotations"][ANNOTATION_REF_NAME] == "app:latest"
    r.delete("app")
    with pytest.raises(ImageNotFound):
        r.get("app")
    with pytest.raises(ImageNotFound):
        r.delete("app")
    with pytest.raises(InvalidReference):
        r.set(f"app@{D}", _desc(3))


def test_untagged_roots_are_kept_but_not_listed(tmp_path: Path) -> None:
    s = open_store(tmp_path)
    s.refs.add_root(_desc(7))
    s.refs.add_root(_desc(7))
    assert s.refs.list() == [] and [d.digest for d in s.refs.entries()] == [_desc(7).digest]


def test_set_many_is_one_update(tmp_path: Path) -> None:
    s = open_store(tmp_path)
    s.refs.set_many([("a", _desc(1)), ("b:2", _desc(2))])
    assert dict((n, d.digest) for n, d in s.refs.list()) == {
        "a:latest": _desc(1).digest,
        "b:2": _desc(2).digest,
    }


_component = st.from_regex(r"\A[a-z0-9]{1,6}(?:[._-][a-z0-9]{1,4})?\Z")
_names = st.builds(
    lambda host, path, tag: (
        (f"{host}/" if host else "") + "/".join(path) + (f":{tag}" if tag else "")
    ),
    st.none() | st.sampled_from(["localhost", "127.0.0.1:5000", "reg.example.com", "docker.io"]),
    st.lists(_component, min_size=1, max_size=3),
    st.none() | st.from_regex(r"\A[A-Za-z0-9_][A-Za-z0-9_.-]{0,10}\Z"),
)


@given(_names)
def test_tag_name_is_idempotent_and_tagged(name: str) -> None:
    norm = tag_name(name)
    assert tag_name(norm) == norm
    assert ":" in norm.rsplit("/", 1)[-1] and not norm.startswith("docker.io/")
