"""The pure build plan: stage DAG, --target pruning, ARG scoping, expansion, unused
build-args, cache inputs, typed instructions, and `pybuild plan --json`."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from builder.errors import DockerfileError
from builder.frontend.instructions import Copy, Env, Healthcheck, Run, parse_dockerfile
from builder.frontend.plan import make_plan
from tests.fixtures.common import REPO

MULTI = """\
ARG BASE=alpine
ARG VERSION=3.19
FROM ${BASE}:${VERSION} AS deps
RUN echo deps
FROM golang:1.22 AS tools
RUN echo tools
FROM deps AS build
COPY --from=0 /a /a
RUN --mount=type=cache,target=/root/.cache,from=tools echo build
FROM scratch AS unused
COPY --from=build /x /x
FROM busybox AS final
COPY --from=build /app /app
COPY --from=nginx:1.25 /etc/nginx /etc/nginx
"""


def _env(step) -> dict[str, str]:
    return dict(step.env)


def test_dag_and_default_target() -> None:
    plan = make_plan(MULTI)
    assert [s.index for s in plan.stages] == [0, 1, 2, 4]
    assert plan.target == 4
    by = {s.index: s for s in plan.stages}
    assert by[0].base == "alpine:3.19" and by[0].deps == ()
    assert by[2].base == 0 and by[2].deps == (0, 1)
    assert by[4].deps == (2,) and by[4].images == ("busybox", "nginx:1.25")
    copy_nginx = by[4].steps[1]
    assert copy_nginx.from_stage is None and copy_nginx.from_image == "nginx:1.25"
    assert by[4].steps[0].from_stage == 2


def test_target_prunes_stages_it_does_not_need() -> None:
    plan = make_plan(MULTI, target="deps")
    assert [s.index for s in plan.stages] == [0] and plan.target == 0
    plan = make_plan(MULTI, target="UNUSED")
    assert [s.index for s in plan.stages] == [0, 1, 2, 3]


def test_global_args_in_from_and_build_arg_override() -> None:
    plan = make_plan(MULTI, build_args={"VERSION": "3.20", "BASE": "debian"}, target="deps")
    assert plan.stages[0].base == "debian:3.20"
    assert dict(plan.meta_args) == {"BASE": "debian", "VERSION": "3.20"}


def test_global_arg_needs_redeclaring_inside_a_stage() -> None:
    text = "ARG V=1\nFROM a\nRUN echo a\nENV A=$V\nARG V\nENV B=$V\nARG W=w-$V\nENV C=$W\n"
    steps = make_plan(text).stages[0].steps
    assert dict(steps[0].args) == {}
    assert steps[1].instruction.pairs[0].value == ""
    assert steps[3].instruction.pairs[0].value == "1"
    assert _env(steps[5]) == {"A": "", "B": "1", "C": "w-1"}
    assert dict(steps[5].args) == {"V": "1", "W": "w-1"}


def test_build_arg_overrides_stage_arg_default_and_env_shadows_arg() -> None:
    text = "FROM a\nARG X=default\nRUN echo\nENV X=fromenv\nWORKDIR /$X\n"
    plan = make_plan(text, build_args={"X": "cli"})
    steps = plan.stages[0].steps
    assert dict(steps[1].args) == {"X": "cli"}
    assert steps[3].instruction.value == "/fromenv"
    assert plan.unused_build_args == ()


def test_unused_build_args_warn_like_docker() -> None:
    plan = make_plan(
        "FROM a\nARG USED\n",
        build_args={
            "USED": "1",
            "NOPE": "2",
            "HTTP_PROXY": "p",
            "BUILDKIT_INLINE_CACHE": "1",
            "SOURCE_DATE_EPOCH": "0",
        },
    )
    assert plan.unused_build_args == ("NOPE",)
    assert "[Warning] One or more build-args [NOPE] were not consumed" in plan.warnings


def test_args_of_pruned_stages_count_as_unused() -> None:
    text = "FROM a AS one\nARG ONLY_ONE\nFROM b AS two\nRUN true\n"
    assert make_plan(text, build_args={"ONLY_ONE": "x"}, target="two").unused_build_args == (
        "ONLY_ONE",
    )
    assert make_plan(text, build_args={"ONLY_ONE": "x"}, target="one").unused_build_args == ()


def test_proxy_args_reach_run_without_declaration() -> None:
    plan = make_plan("FROM a\nRUN curl x\n", build_args={"https_proxy": "http://p:3128"})
    assert dict(plan.stages[0].steps[0].args) == {"https_proxy": "http://p:3128"}


def test_automatic_platform_args() -> None:
    text = (
        "FROM --platform=$BUILDPLATFORM golang AS b\nARG TARGETOS TARGETARCH\n"
        "ENV T=$TARGETOS/$TARGETARCH U=${TARGETVARIANT:-none}\n"
    )
    plan = make_plan(text, platform="linux/arm64")
    stage = plan.stages[0]
    assert stage.from_.platform == stage.platform != ""
    assert _env(stage.steps[-1]) == {"T": "linux/arm64", "U": "none"}


def test_the_build_platform_is_passed_in_never_read_from_the_machine() -> None:
    text = "FROM --platform=$BUILDPLATFORM a\nARG BUILDARCH TARGETARCH\nENV B=$BUILDARCH T=$TARGETARCH\n"
    plan = make_plan(text, platform="linux/amd64", build_platform="linux/arm/v7")
    stage = plan.stages[0]
    assert stage.platform == "linux/arm/v7"
    assert _env(stage.steps[-1]) == {"B": "arm", "T": "amd64"}
    riscv = make_plan(
        "FROM a\nARG TARGETPLATFORM\nENV P=$TARGETPLATFORM\n", build_platform="riscv64"
    )
    assert _env(riscv.stages[0].steps[-1]) == {"P": "linux/riscv64"}


def test_base_image_env_from_resolver_and_stage_inheritance() -> None:
    seen = []

    def resolver(ref: str, platform: str) -> dict:
        seen.append((ref, platform))
        return {"config": {"Env": ["PATH=/usr/bin:/bin", "HOME=/root"]}}

    text = "FROM img AS one\nENV PATH=$PATH:/opt/bin\nFROM one\nWORKDIR $HOME/x\nENV P=$PATH\n"
    plan = make_plan(text, base_resolver=resolver, platform="linux/amd64")
    assert seen == [("img", "linux/amd64")]
    last = plan.stages[1].steps[-1]
    assert last.instruction.pairs[0].value == "/usr/bin:/bin:/opt/bin"
    assert plan.stages[1].steps[0].instruction.value == "/root/x"


def test_cache_inputs_follow_visible_args_and_env() -> None:
    from builder.cache_inputs import plan_record
    from builder.frontend.plan import plan_to_json

    text = "FROM a\nARG V\nRUN make\n"
    one = make_plan(text, build_args={"V": "1"}, platform="linux/amd64").stages[0].steps[1]
    two = make_plan(text, build_args={"V": "2"}, platform="linux/amd64").stages[0].steps[1]
    assert one.text == two.text == "RUN make"
    assert plan_record(one, "linux/amd64") != plan_record(two, "linux/amd64")
    assert json.loads(plan_record(one, "linux/amd64")) == {
        "instruction": "RUN make",
        "args": {"V": "1"},
        "env": {},
        "platform": "linux/amd64",
        "extra": {"expanded": "RUN make"},
    }
    plan = make_plan("FROM a\nRUN make\n", build_args={"V": "1"}, platform="linux/amd64")
    shown = plan_to_json(plan)["stages"][0]["steps"][0]["cache_inputs"]
    assert shown == plan_record(plan.stages[0].steps[0], "linux/amd64")
    assert json.loads(shown)["args"] == {}


def test_expansion_only_where_docker_expands() -> None:
    text = (
        "FROM a\nENV N=x\nRUN echo $N\nCMD echo $N\nCOPY $N /$N/\nLABEL l=$N\nEXPOSE ${P:-80}\n"
        "USER $N\nVOLUME /$N\nSTOPSIGNAL ${N:+SIGTERM}\nONBUILD RUN echo $N\n"
    )
    texts = [s.text for s in make_plan(text).stages[0].steps]
    assert texts == [
        "ENV N=x",
        "RUN echo $N",
        "CMD echo $N",
        "COPY x /x/",
        "LABEL l=x",
        "EXPOSE 80",
        "USER x",
        "VOLUME /x",
        "STOPSIGNAL SIGTERM",
        "ONBUILD RUN echo $N",
    ]


def test_heredocs_in_run_and_copy() -> None:
    text = (
        "FROM a\nENV W=world\nRUN <<EOF bash\necho $W\nEOF\n"
        "COPY <<one.txt <<'two.txt' /dst/\nhello $W\none.txt\nraw $W\ntwo.txt\n"
    )
    steps = make_plan(text).stages[0].steps
    run = steps[1].instruction
    assert isinstance(run, Run) and run.heredocs[0].content == "echo $W\n"
    copy = steps[2].instruction
    assert isinstance(copy, Copy) and copy.sources == () and copy.dest == "/dst/"
    assert [h.content for h in copy.heredocs] == ["hello world\n", "raw $W\n"]


def test_typed_flags_and_mounts() -> None:
    parsed = parse_dockerfile(
        "FROM --platform=linux/arm64 a AS Build\n"
        "RUN --mount=type=cache,target=/c,sharing=locked,id=x --mount=type=secret,id=tok,required "
        "--network=none make\n"
        "COPY --from=build --chown=1:2 --chmod=644 --link --exclude=*.md --exclude=.git a b /d/\n"
        "ADD --checksum=sha256:00 --keep-git-dir=true https://x/y.tar /t\n"
        'HEALTHCHECK --interval=5s --retries=3 CMD ["curl", "-f", "x"]\n'
        'ENV A=1 B="2 3"\nENV OLD legacy form value\n'
    )
    stage = parsed.stages[0]
    assert stage.name == "build" and stage.platform == "linux/arm64"
    run, copy, add, health, env, old = stage.commands
    assert run.network == "none" and len(run.mounts) == 2
    assert (run.mounts[0].type, run.mounts[0].target, run.mounts[0].sharing, run.mounts[0].id) == (
        "cache",
        "/c",
        "locked",
        "x",
    )
    assert run.mounts[1].required and run.mounts[1].type == "secret"
    assert (copy.from_, copy.chown, copy.chmod, copy.link, copy.excludes) == (
        "build",
        "1:2",
        "644",
        True,
        ("*.md", ".git"),
    )
    assert copy.sources == ("a", "b") and copy.dest == "/d/"
    assert add.checksum == "sha256:00" and add.keep_git_dir
    assert isinstance(health, Healthcheck) and health.test == ("CMD", "curl", "-f", "x")
    assert health.interval == 5_000_000_000 and health.retries == 3
    assert isinstance(env, Env) and [(p.key, p.value) for p in env.pairs] == [
        ("A", "1"),
        ("B", '"2 3"'),
    ]
    assert [(p.key, p.value) for p in old.pairs] == [("OLD", "legacy form value")]
    assert run.span.line == 2 and run.original.startswith("RUN --mount=type=cache")


def test_plan_json_cli(tmp_path: Path) -> None:
    (tmp_path / "Dockerfile").write_text(MULTI)
    (tmp_path / ".dockerignore").write_text("*.md\n")
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "builder.cli",
            "plan",
            "--json",
            "--target",
            "build",
            "--build-arg",
            "VERSION=3.20",
            "--build-arg",
            "EXTRA=1",
            str(tmp_path),
        ],
        capture_output=True,
        text=True,
        env={"PYTHONPATH": str(REPO), "PATH": "/usr/bin:/bin"},
    )
    assert proc.returncode == 0, proc.stderr
    doc = json.loads(proc.stdout)
    assert [s["index"] for s in doc["stages"]] == [0, 1, 2]
    assert doc["stages"][0]["base"] == "alpine:3.20"
    assert doc["unused_build_args"] == ["EXTRA"]
    assert doc["dockerignore"] == str(tmp_path / ".dockerignore")
    assert proc.stderr == "[Warning] One or more build-args [EXTRA] were not consumed\n"
    step = doc["stages"][2]["steps"][1]
    assert step["instruction"]["mounts"][0]["from_"] == "tools" and step["line"] == 9


def test_from_resolved_by_a_stage_arg_is_still_planned() -> None:
    text = (
        "FROM a AS one\nRUN x\nFROM b AS two\nRUN y\nFROM c\nARG SRC=one\nCOPY --from=$SRC /x /y\n"
    )
    plan = make_plan(text)
    assert [s.index for s in plan.stages] == [0, 2]
    assert plan.stages[-1].steps[1].from_stage == 0 and plan.stages[-1].deps == (0,)


def test_mount_options_expand_and_heredoc_quotes_survive() -> None:
    text = (
        "FROM a AS tools\nFROM b\nARG T=tools\nENV D=/cache\n"
        "RUN --mount=type=cache,target=$D,from=$T make\n"
        "COPY <<EOF /f\necho \"$D\" '$D'\nEOF\n"
    )
    steps = make_plan(text).stages[-1].steps
    mount = steps[2].instruction.mounts[0]
    assert (mount.target, mount.from_, mount.readonly) == ("/cache", "tools", False)
    assert steps[2].text == "RUN --mount=type=cache,target=/cache,from=tools make"
    assert steps[3].instruction.heredocs[0].content == "echo \"/cache\" '/cache'\n"


def test_plan_text_output_for_the_testdata_dockerfile(capsys) -> None:
    from builder.cli import main

    ctx = REPO / "testdata" / "frontend"
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "builder.cli",
            "plan",
            "-f",
            str(ctx / "multistage.Dockerfile"),
            "--build-arg",
            "PY=3.12",
            "--platform",
            "linux/amd64",
            str(ctx),
        ],
        capture_output=True,
        text=True,
        env={"PYTHONPATH": str(REPO), "PATH": "/usr/bin:/bin"},
    )
    assert (proc.returncode, proc.stderr) == (0, "")
    assert proc.stdout == (
        "stage 0 AS build: FROM python:3.12-slim [linux/amd64]\n"
        "    1  line 4    ENV PIP_NO_CACHE_DIR=1 APP=/app\n"
        "    2  line 6    WORKDIR /app\n"
        "    3  line 7    COPY requirements.txt .\n"
        "    4  line 8    RUN --mount=type=cache,target=/root/.cache pip install -r requirements.txt\n"
        "    5  line 9    COPY . .\n"
        "stage 2: FROM python:3.12-slim [linux/amd64]  needs stages 0  (target)\n"
        "    1  line 13   COPY --from=build /app /app\n"
        "    2  line 14   USER 1000:1000\n"
        '    3  line 15   CMD ["python", "-m", "app"]\n'
    )
    assert (
        main(["plan", "-f", str(ctx / "multistage.Dockerfile"), "--target", "docs", str(ctx)]) == 0
    )
    assert capsys.readouterr().out.startswith("stage 1 AS docs: FROM alpine [")


def test_check_directive_skips_or_fails_on_warnings() -> None:
    from builder.errors import DockerfileError

    text = "FROM a AS x\nFROM b AS x\n"
    assert len(make_plan(text).warnings) == 1
    assert make_plan("# check=skip=DuplicateStageName\n" + text).warnings == ()
    assert make_plan("# check=skip=all\n" + text).warnings == ()
    try:
        make_plan("# check=error=true\n" + text)
    except DockerfileError as e:
        assert str(e) == (
            'Dockerfile:3:1: lint DuplicateStageName: Duplicate stage name "x", '
            "stage names should be unique (check=error=true)"
        )
    else:
        raise AssertionError("check=error=true must fail")


@pytest.mark.parametrize(
    "body,where,message",
    [
        ("EXPOSE 80 abc/tcpx", "2:1", "EXPOSE: Invalid containerPort: abc"),
        ("ARG P=80/tcpx\nEXPOSE $P", "3:1", "EXPOSE: Invalid proto: tcpx"),
        ("ARG S=0\nSTOPSIGNAL $S", "3:1", "STOPSIGNAL: Invalid signal: 0"),
        ("STOPSIGNAL SIGFOO", "2:1", "STOPSIGNAL: Invalid signal: SIGFOO"),
        ("ARG E\nVOLUME /a $E", "3:1", "VOLUME: VOLUME specified can not be an empty string"),
    ],
)
def test_what_buildkit_refuses_converting_the_plan_refuses_at_its_line(
    body: str, where: str, message: str
) -> None:
    with pytest.raises(DockerfileError) as e:
        make_plan(f"FROM busybox\n{body}\n")
    assert str(e.value) == f"Dockerfile:{where}: {message}"


def test_values_buildkit_takes_plan() -> None:
    df = "FROM busybox\nSTOPSIGNAL 99\nSTOPSIGNAL sigrtmax-3\nEXPOSE 8000-8001:80/UDP\n"
    assert make_plan(df).stages[0].steps
