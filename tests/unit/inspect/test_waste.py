"""Waste and efficiency on a synthetic 4-layer image, against a hand computation."""

from __future__ import annotations

import io

import pytest

from builder.inspect.analyze import LayerInput, analyze
from tests.unit.inspect.synth import compress, layer_tar

L0 = [
    ("dir", "d"),
    ("file", "a", 1000),
    ("file", "b", 300),
    ("file", "d/x", 200),
    ("file", "d/y", 100),
]
L1 = [("file", "c", 5000), ("file", "a", 1500)]
L2 = [("del", "c"), ("file", "b", 300, 0o600), ("del", "d")]
L3 = [("file", "a", 800), ("file", "e", 40)]


def _inputs(how: str = "gzip") -> list[LayerInput]:
    out = []
    for i, spec in enumerate((L0, L1, L2, L3)):
        blob, _ = compress(layer_tar(spec), how)
        out.append(LayerInput(f"sha256:{i:064x}", len(blob), lambda b=blob: io.BytesIO(b)))
    return out


def _history(marked: bool) -> dict:
    h = [{"created_by": "ADD rootfs.tar / # buildkit"}]
    for n, text in ((3, "RUN make"), (4, "RUN rm c && chmod 600 b && rm -r d"), (5, "RUN x")):
        e = {"created_by": f"RUN /bin/sh -c {text[4:]} # buildkit"}
        if marked:
            e["comment"] = f"pybuild:line={n}"
        h.append(e)
    return {"history": h}


@pytest.mark.parametrize("how", ["gzip", "zstd", "none"])
def test_hand_computed_waste(how: str) -> None:
    a = analyze(_history(True), _inputs(how))
    w = a.waste
    # pybuild, the hidden versions: a: 1000,1500,800 -> 2500; b: 300,300 -> 300;
    # c: 5000,del -> 5000; d/x: 200,del -> 200; d/y: 100,del -> 100; e: 40 -> 0
    assert w.reclaimable_bytes == 2500 + 300 + 5000 + 200 + 100
    # dive visits the leaves of each layer: a 3 times, b twice, c twice (its whiteout
    # counts 0: it was a file), and d's whiteout once (d was a directory: 0 + 200 + 100)
    assert w.wasted_bytes == 3300 + 600 + 5000
    assert [(p.path, p.count, p.size) for p in w.dive.inefficient] == [
        ("/c", 2, 5000),
        ("/a", 3, 3300),
        ("/b", 2, 600),
    ]
    # dive's score: sum(min) / sum(cumulative) over a, b, c, d/x, d/y, d, e
    assert w.efficiency == (800 + 300 + 0 + 200 + 100 + 300 + 40) / (
        3300 + 600 + 5000 + 200 + 100 + 300 + 40
    )
    assert w.base_layers == 1
    assert w.image_files_size == 1600 + 6500 + 300 + 840
    assert w.user_files_size == w.dive.user_size == 6500 + 300 + 840
    assert w.user_wasted_percent == pytest.approx(100 * 8900 / 7640)
    assert w.reclaimable_percent == pytest.approx(100 * 8100 / 7640)
    top = [(p.path, p.reclaimable_bytes, p.layers, p.deleted) for p in w.top]
    assert top == [
        ("c", 5000, (1, 2), True),
        ("a", 2500, (0, 1, 3), False),
        ("b", 300, (0, 2), False),
        ("d/x", 200, (0, 2), True),
        ("d/y", 100, (0, 2), True),
    ]


def test_layer_changes_and_lines() -> None:
    a = analyze(_history(True), _inputs())
    rows = [(x.added, x.modified, x.deleted, x.files_size, x.line, x.base) for x in a.layers]
    assert rows == [
        (5, 0, 0, 1600, None, True),
        (1, 1, 0, 6500, 3, False),
        (0, 1, 3, 300, 4, False),
        (1, 1, 0, 840, 5, False),
    ]
    assert a.layers[2].deleted_bytes == 5000 + 200 + 100
    assert a.layers[1].size == len(compress(layer_tar(L1), "gzip")[0])
    assert a.layers[1].uncompressed_size == len(layer_tar(L1))


def test_base_layers_from_markers_count_every_base_layer() -> None:
    hist = _history(True)
    hist["history"][1].pop("comment")  # layer 1 now belongs to the base image
    w = analyze(hist, _inputs()).waste
    assert w.base_layers == 2
    assert w.user_files_size == 300 + 840
    assert w.reclaimable_percent == pytest.approx(100 * 8100 / 1140)
    # dive counts only the first layer as the base, whatever the history says
    assert w.user_wasted_percent == pytest.approx(100 * 8900 / 7640)


def test_unmarked_image_uses_dive_rule() -> None:
    a = analyze(_history(False), _inputs())
    assert a.waste.base_layers == 1 and a.line_source == "none"
    assert all(x.line is None for x in a.layers)
