"""Property: for any stack of layers (files written, overwritten, deleted one by one,
by a whole directory or by an opaque marker), reclaimable bytes equal the bytes of
every version minus the bytes visible in the final image, computed by a naive model;
dive's figures stay in their bounds."""

from __future__ import annotations

import io

from hypothesis import given
from hypothesis import strategies as st

from builder.inspect.analyze import LayerInput, analyze
from tests.unit.inspect.synth import layer_tar

DIRS = ["a", "b"]
FILES = [f"{d}/{n}" for d in DIRS for n in ("x", "y", "z")]
OP = st.one_of(
    st.tuples(st.just("file"), st.sampled_from(FILES), st.integers(0, 5000)),
    st.tuples(st.just("del"), st.sampled_from(FILES + DIRS)),
    st.tuples(st.just("opaque"), st.sampled_from(DIRS)),
)


def _layer(ops: list[tuple]) -> list[tuple]:
    out, seen = [("dir", d) for d in DIRS], set()
    for op in ops:
        if op[1] in seen:  # one entry per path per layer, as real layers have
            continue
        seen.add(op[1])
        out.append(op)
    return out


@given(st.lists(st.lists(OP, max_size=6), min_size=1, max_size=5))
def test_waste_matches_naive_model(layers: list[list[tuple]]) -> None:
    specs = [_layer(ops) for ops in layers]
    visible: dict[str, int] = {}
    written = 0
    for spec in specs:
        for op in spec:  # whiteouts and opaque markers hide lower layers only
            if op[0] == "del":
                for p in [p for p in visible if p == op[1] or p.startswith(op[1] + "/")]:
                    del visible[p]
            elif op[0] == "opaque":
                for p in [p for p in visible if p.startswith(op[1] + "/")]:
                    del visible[p]
        for op in spec:
            if op[0] == "file":
                visible[op[1]] = op[2]
                written += op[2]
    tars = [layer_tar(s) for s in specs]
    inputs = [
        LayerInput(f"sha256:{i:064x}", len(t), lambda t=t: io.BytesIO(t))
        for i, t in enumerate(tars)
    ]
    w = analyze({}, inputs).waste
    assert w.reclaimable_bytes == written - sum(visible.values())
    assert w.efficiency <= 1.0
    assert 0 <= w.wasted_bytes <= w.dive.size * len(specs)
    assert sum(p.reclaimable_bytes for p in w.top) == w.reclaimable_bytes  # fewer than 20
