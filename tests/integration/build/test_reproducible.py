"""Reproducibility: SOURCE_DATE_EPOCH gives the same manifest digest from two empty
stores; without it the layer digests are still identical."""

from __future__ import annotations

import pytest

from tests.fixtures.build import run_build
from tests.integration.build import helpers as h

pytestmark = pytest.mark.root

DF = """\
FROM busybox
COPY . /app/
RUN mkdir -p /out && echo built > /out/x && ln -s x /out/y && chmod 600 /out/x
ENV A=1
CMD ["sh"]
"""


def _two_builds(tmp_path, busybox_image, dockerfile=DF, **kw):
    ctx = tmp_path / "ctx"
    ctx.mkdir()
    (ctx / "a.txt").write_text("a\n")
    (ctx / "dir").mkdir()
    (ctx / "dir" / "b.txt").write_text("b\n")
    results = []
    for i in (1, 2):
        root = tmp_path / f"store{i}"
        busybox_image.load(root)
        res, _ = run_build(root, ctx, dockerfile, tags=["repro:1"], **kw)
        results.append((root, res))
    return results


def test_source_date_epoch_gives_identical_manifest(tmp_path, busybox_image, monkeypatch):
    monkeypatch.setenv("SOURCE_DATE_EPOCH", "1600000000")  # the same base in both stores
    (r1, a), (r2, b) = _two_builds(tmp_path, busybox_image, source_date_epoch=1700000000)
    assert a.manifest.digest == b.manifest.digest
    assert a.image_id == b.image_id
    cfg = h.config(r1, "repro:1")
    assert cfg["created"] == "2023-11-14T22:13:20Z"
    assert all(x["created"] == "2023-11-14T22:13:20Z" for x in cfg["history"][1:])


COPY_ONLY = "FROM busybox\nCOPY . /app/\nCOPY --chmod=600 a.txt /secret/a\nENV A=1\n"


def test_without_epoch_layers_are_identical(tmp_path, busybox_image):
    # Files a RUN creates get the time of the build, as in BuildKit; COPY keeps the
    # context's mtimes, so its layers must come out byte-identical.
    (r1, a), (r2, b) = _two_builds(tmp_path, busybox_image, dockerfile=COPY_ONLY)
    la = [d.digest for d in h.image(r1, "repro:1").manifest().layers]
    lb = [d.digest for d in h.image(r2, "repro:1").manifest().layers]
    assert la == lb and len(la) == 3
