"""The cache document and the flag values as untrusted input: any JSON is either rows
or a CacheImportError (never another exception), rows keep their layer's source, and
spec parsing accepts BuildKit's spellings."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from builder.engine.cache_import import CacheImportError, RemoteSource, parse_rows
from builder.engine.remote_cache import CacheSpec, CacheSpecError

SRC = RemoteSource("127.0.0.1:5000/team/cache:1")
D = "sha256:" + "ab" * 32
LAYER = {"mediaType": "application/vnd.oci.image.layer.v1.tar+gzip", "digest": D, "size": 3}

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(max_size=8),
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4)
    ),
    max_leaves=20,
)


@given(json_values)
def test_any_json_is_rows_or_a_cache_import_error(doc):
    try:
        rows = parse_rows(doc, SRC, "r")
    except CacheImportError:
        return
    assert isinstance(rows, dict)


@given(
    st.lists(
        st.fixed_dictionaries(
            {
                "key": st.sampled_from([D, "nope", 5]),
                "parent": st.sampled_from(["", D, None]),
                "result": st.fixed_dictionaries(
                    {
                        "kind": st.sampled_from(["layer", "meta", "empty", "x"]),
                        "layer": st.sampled_from([None, LAYER, {"digest": 1}]),
                        "diff_id": st.sampled_from([None, D, "junk"]),
                    }
                ),
            }
        ),
        max_size=4,
    )
)
def test_rows_with_hostile_fields(rows):
    try:
        got = parse_rows({"version": 1, "rows": rows}, SRC, "r")
    except CacheImportError:
        return
    for r in got.values():
        assert r.result.kind in ("layer", "meta", "empty")
        if r.result.kind == "layer":
            assert r.result.source == SRC and r.result.layer is not None


def test_a_good_row():
    got = parse_rows(
        {
            "version": 1,
            "rows": [
                {
                    "key": D,
                    "parent": "",
                    "result": {
                        "kind": "layer",
                        "layer": LAYER,
                        "diff_id": D,
                        "chain_id": D,
                        "created": None,
                    },
                }
            ],
        },
        SRC,
        "origin",
    )
    row = got[D]
    assert (row.origin, row.result.layer.size, row.result.source) == ("origin", 3, SRC)


@pytest.mark.parametrize(
    "text,export,want",
    [
        ("r/c:1", False, CacheSpec("registry", "r/c:1", "min")),
        ("type=registry,ref=r/c:1", False, CacheSpec("registry", "r/c:1", "min")),
        (
            "type=registry,ref=r/c,mode=max,oci-mediatypes=true,image-manifest=true",
            True,
            CacheSpec("registry", "r/c", "max"),
        ),
        ("ref=r/c,mode=min", True, CacheSpec("registry", "r/c", "min")),
        ("type=inline", True, CacheSpec("inline")),
    ],
)
def test_specs(text, export, want):
    assert CacheSpec.parse(text, export=export) == want


@pytest.mark.parametrize("text", ["", "type=gha", "type=registry,ref=r,mode=x", "a,b"])
def test_bad_specs(text):
    with pytest.raises(CacheSpecError):
        CacheSpec.parse(text, export=True)
