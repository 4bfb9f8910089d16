"""Dockerfile reading and mapping layers to lines: pybuild's history markers, and the
best-effort match of BuildKit / classic-builder created_by against `-f`."""

from __future__ import annotations

import io

from builder.inspect.analyze import LayerInput, analyze
from builder.inspect.dockerfile import parse_dockerfile
from builder.inspect.history import marker_comment, normalize_created_by
from tests.unit.inspect.synth import layer_tar

DOCKERFILE = """\
# syntax=docker/dockerfile:1
ARG BASE=busybox
FROM $BASE AS build
RUN echo building \\
    && touch /out
FROM busybox
ENV APP=/app
WORKDIR /app
COPY --from=build /out /app/out
RUN <<EOF
echo hi > /app/hi
EOF
RUN apt-get update && apt-get install -y x
"""


def test_parse_steps_stages_and_spans() -> None:
    df = parse_dockerfile(DOCKERFILE)
    got = [(s.keyword, s.line, s.end_line, s.stage) for s in df.steps]
    assert got == [
        ("ARG", 2, 2, -1),
        ("FROM", 3, 3, 0),
        ("RUN", 4, 5, 0),
        ("FROM", 6, 6, 1),
        ("ENV", 7, 7, 1),
        ("WORKDIR", 8, 8, 1),
        ("COPY", 9, 9, 1),
        ("RUN", 10, 12, 1),
        ("RUN", 13, 13, 1),
    ]
    copy = df.steps[6]
    assert copy.flags == {"from": "build"} and copy.words() == ["/out", "/app/out"]
    assert df.steps[2].args == "echo building && touch /out"
    assert df.final_stage == 1 and df.at_line(11) is df.steps[7]


def test_normalize_created_by_forms() -> None:
    assert normalize_created_by("RUN /bin/sh -c make all # buildkit") == ("RUN", "make all")
    assert normalize_created_by("|2 A=1 B=2 /bin/sh -c make") == ("RUN", "make")
    assert normalize_created_by("RUN |1 V=2 /bin/sh -c make # buildkit") == ("RUN", "make")
    assert normalize_created_by('/bin/sh -c #(nop)  CMD ["sh"]') == ("CMD", '["sh"]')
    assert normalize_created_by("/bin/sh -c #(nop) COPY file:abc in /app ") == (
        "COPY",
        "file:abc in /app",
    )
    assert normalize_created_by("WORKDIR /app") == ("WORKDIR", "/app")
    assert marker_comment(7) == "pybuild:line=7"
    assert marker_comment(7, 9, "b1") == "pybuild:line=7-9 pybuild:build=b1"


def _layers(n: int) -> list[LayerInput]:
    out = []
    for i in range(n):
        t = layer_tar([("file", f"f{i}", 100 * (i + 1))])
        out.append(LayerInput(f"sha256:{i:064x}", len(t), lambda t=t: io.BytesIO(t)))
    return out


def test_best_effort_match_of_an_unmarked_buildkit_image() -> None:
    df = parse_dockerfile(DOCKERFILE)
    hist = [
        {"created_by": "/bin/sh -c #(nop) ADD file:aaa in / "},
        {"created_by": "/bin/sh -c #(nop) ADD file:bbb in /usr "},
        {"created_by": '/bin/sh -c #(nop)  CMD ["sh"]', "empty_layer": True},
        {"created_by": "ENV APP=/app", "empty_layer": True, "comment": "buildkit.dockerfile.v0"},
        {"created_by": "WORKDIR /app", "comment": "buildkit.dockerfile.v0"},
        {"created_by": "COPY /out /app/out # buildkit", "comment": "buildkit.dockerfile.v0"},
        {"created_by": "RUN /bin/sh -c echo hi > /app/hi # buildkit"},
        {"created_by": "RUN /bin/sh -c apt-get update && apt-get install -y x # buildkit"},
    ]
    a = analyze({"history": hist}, _layers(6), df)
    assert a.line_source == "dockerfile"
    assert [x.line for x in a.layers] == [None, None, 8, 9, 10, 13]
    assert a.waste.base_layers == 2  # both layers of the base image, not only layer 0
    assert [x.base for x in a.layers] == [True, True, False, False, False, False]
    assert [(f.id, f.lines) for f in a.pitfalls] == [("apt-lists", (13,))]


def test_markers_win_over_the_dockerfile_and_split_builds() -> None:
    hist = [
        {"created_by": "base", "comment": marker_comment(2, build="old")},
        {"created_by": "RUN /bin/sh -c a # buildkit", "comment": marker_comment(4, 5, "new")},
        {"created_by": "RUN /bin/sh -c b # buildkit", "comment": marker_comment(13, build="new")},
    ]
    a = analyze({"history": hist}, _layers(3), parse_dockerfile(DOCKERFILE))
    assert a.line_source == "history"
    assert [(x.line, x.end_line, x.base) for x in a.layers] == [
        (None, None, True),
        (4, 5, False),
        (13, 13, False),
    ]
