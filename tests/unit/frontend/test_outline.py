"""`--call outline` and `--call targets` as BuildKit answers them: the cases of its own
tests (frontend/dockerfile/dockerfile_outline_test.go: testOutlineArgs,
testOutlineSecrets), and the text its PrintOutline and PrintTargets write."""

from __future__ import annotations

import base64
import json

from builder.frontend.outline import (
    outline,
    outline_json,
    print_outline,
    print_targets,
    targets,
    targets_json,
)

ARGS = """ARG inherited=box
ARG inherited2=box2
ARG unused=abc${inherited2}
# sfx is a suffix
ARG sfx="usy${inherited}"

FROM b${sfx} AS first
# this is not assigned to anything
ARG FOO=123
# BAR is a number
ARG BAR=456
RUN true

FROM alpine${unused} AS second
ARG BAZ
RUN true

FROM scratch AS third
ARG ABC=a

# target defines build target
FROM third AS target
COPY --from=first /etc/passwd /

FROM second
"""

SECRETS = """
FROM busybox AS first
RUN --mount=type=secret,target=/etc/passwd,required=true --mount=type=ssh true

FROM alpine AS second
RUN --mount=type=secret,id=unused --mount=type=ssh,id=ssh2 true

FROM scratch AS third
ARG BAR
RUN --mount=type=secret,id=second${BAR} true

FROM third AS target
COPY --from=first /foo /
RUN --mount=type=ssh,id=ssh3,required true

FROM second
"""


def test_the_args_a_target_needs_with_values_descriptions_and_lines() -> None:
    o = outline(ARGS, build_args={"BAR": "678"}, target="target")
    assert (o.name, o.description) == ("target", "defines build target")
    got = [(a.name, a.value, a.description, a.lines[0]) for a in o.args]
    assert got == [
        ("inherited", "box", "", 1),
        ("sfx", "usybox", "is a suffix", 5),
        ("FOO", "123", "", 9),
        ("BAR", "678", "is a number", 11),
        ("ABC", "a", "", 19),
    ]


def test_the_secrets_and_ssh_a_target_asks_for() -> None:
    o = outline(SECRETS, build_args={"BAR": "678"}, target="target")
    assert [(s.name, s.required, s.lines[0]) for s in o.secrets] == [
        ("passwd", True, 3),
        ("second678", False, 10),
    ]
    assert [(s.name, s.required, s.lines[0]) for s in o.ssh] == [
        ("default", False, 3),
        ("ssh3", True, 14),
    ]


def test_printed_as_buildkit_s_tabwriter_prints_them() -> None:
    o = outline(SECRETS, build_args={"BAR": "678"}, target="target")
    assert print_outline(o) == (
        "TARGET: target\n\n"
        "BUILD ARG   VALUE   DESCRIPTION\n"
        "BAR         678     \n\n"
        "SECRET      REQUIRED\npasswd      true\nsecond678   \n\n"
        "SSH       REQUIRED\ndefault   \nssh3      true\n\n"
    )
    assert print_targets(targets(ARGS)) == (
        "TARGET    DESCRIPTION\n"
        "first     \nsecond    \nthird     \n"
        "target    defines build target\n"
        "(default) \n"
    )


def test_targets_list_every_stage_the_last_the_default() -> None:
    ts = targets(ARGS)
    assert [(t.name, t.default, t.base, t.lines[0]) for t in ts] == [
        ("first", False, "b${sfx}", 7),
        ("second", False, "alpine${unused}", 14),
        ("third", False, "scratch", 18),
        ("target", False, "third", 22),
        ("", True, "second", 25),
    ]


def test_a_description_is_a_comment_that_names_the_stage_or_arg() -> None:
    df = (
        "# syntax=docker/dockerfile:1\n"
        "# build compiles\n# it all\nFROM busybox AS Build\n"
        "# other text\n#\n# V the version\nARG V=1\n"
    )
    (t,) = targets(df)
    assert t.description == "compiles"  # matched on the lower-cased name
    o = outline(df)
    assert [(a.name, a.description) for a in o.args] == [("V", "the version")]


def test_json_is_buildkit_s_result_json() -> None:
    doc = json.loads(targets_json(targets(ARGS), ARGS))
    assert base64.b64decode(doc["sources"][0]).decode() == ARGS
    assert doc["targets"][3] == {
        "name": "target",
        "description": "defines build target",
        "base": "third",
        "location": {"ranges": [{"start": {"line": 22}, "end": {"line": 22}}]},
    }
    assert doc["targets"][4]["default"] is True
    o = json.loads(
        outline_json(outline(SECRETS, build_args={"BAR": "678"}, target="target"), SECRETS)
    )
    assert o["secrets"][0] == {
        "name": "passwd",
        "required": True,
        "location": {"ranges": [{"start": {"line": 3}, "end": {"line": 3}}]},
    }
    assert o["args"] == [
        {
            "name": "BAR",
            "value": "678",
            "location": {"ranges": [{"start": {"line": 9}, "end": {"line": 9}}]},
        }
    ]
