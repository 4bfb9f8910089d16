"""ADD of a URL in a build: the bytes the cache key was made from are the bytes the
layer gets. The URL is fetched once per build, never a second time to copy it, and no
staging directory is left behind, whether the step ran or was a cache hit."""

from __future__ import annotations

import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.fixtures.build import run_build
from tests.fixtures.http_files import Handler, serve
from tests.integration.build import helpers as h

pytestmark = pytest.mark.root


class _Versions(Handler):
    """Serves a new body on every request, as a file that changes upstream would
    (but the same bytes under /same)."""

    def respond(self, path: str, n: int) -> tuple[int, bytes, dict[str, str]]:
        return 200, b"stable\n" if path.startswith("/same") else f"version {n}\n".encode(), {}


@pytest.fixture
def server() -> Iterator[tuple[str, list[str]]]:
    with serve(_Versions) as got:
        yield got


def _staging_dirs() -> set[str]:
    return {p.name for p in Path(tempfile.gettempdir()).glob("pybuild-add-*")}


def test_a_url_is_fetched_once_and_the_layer_holds_what_the_key_hashed(
    build_store, tmp_path, server
) -> None:
    base, hits = server
    before = _staging_dirs()
    df = f"FROM busybox\nADD {base}/tool.txt /opt/tool.txt\n"
    _, out = run_build(build_store, tmp_path, df, tags=["url:1"])
    assert hits == ["/tool.txt"]  # not a second request to copy it
    assert h.read_file(build_store, "url:1", "opt/tool.txt") == b"version 1\n"
    # upstream changed (version 2): the key changes, the step re-runs with those bytes
    res, out = run_build(build_store, tmp_path, df, tags=["url:2"])
    assert hits == ["/tool.txt", "/tool.txt"]
    assert h.read_file(build_store, "url:2", "opt/tool.txt") == b"version 2\n"
    assert "CACHED" not in out
    assert _staging_dirs() == before


def test_a_cache_hit_leaves_no_fetched_files_behind(build_store, tmp_path, server) -> None:
    base, hits = server
    before = _staging_dirs()
    df = f"FROM busybox\nADD {base}/same/tool.txt /opt/tool.txt\n"
    run_build(build_store, tmp_path, df, tags=["same:1"])
    _, out = run_build(build_store, tmp_path, df, tags=["same:2"])
    assert "CACHED" in out  # same bytes, same key: nothing copied...
    assert len(hits) == 2  # ...but fetched to know that, as BuildKit does
    assert h.read_file(build_store, "same:2", "opt/tool.txt") == b"stable\n"
    assert _staging_dirs() == before  # what the hit did not use is deleted


def test_a_failed_fetch_leaves_nothing_behind(build_store, tmp_path, server) -> None:
    base, _ = server
    before = _staging_dirs()
    df = f"FROM busybox\nADD --checksum=sha256:{'0' * 64} {base}/x /x\n"
    with pytest.raises(Exception, match="digest mismatch"):
        run_build(build_store, tmp_path, df, tags=["bad:1"])
    assert _staging_dirs() == before
