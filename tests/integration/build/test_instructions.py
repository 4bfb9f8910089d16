"""Every instruction built on busybox: config fields, history in BuildKit's form with
empty_layer where BuildKit has it, files, owners and modes."""

from __future__ import annotations

import pytest

from tests.fixtures.build import run_build
from tests.integration.build import helpers as h

pytestmark = pytest.mark.root

METADATA = """\
FROM busybox
MAINTAINER Jane <jane@example.com>
ARG VERSION=1.0
ENV APP_HOME=/srv/app VERSION=$VERSION
LABEL org.example.version=$VERSION "quoted key"="a b"
EXPOSE 80 53/udp 8000-8001
VOLUME ["/data", "/logs"]
WORKDIR $APP_HOME
WORKDIR sub
USER app:app
STOPSIGNAL SIGQUIT
HEALTHCHECK --interval=30s --timeout=3s --retries=2 CMD wget -q -O- localhost || exit 1
SHELL ["/bin/sh", "-xc"]
ONBUILD RUN echo triggered > /onbuild.txt
ENTRYPOINT ["/bin/echo"]
CMD hello $APP_HOME
"""


def test_metadata_instructions(build_store, tmp_path):
    res, _ = run_build(build_store, tmp_path, METADATA, tags=["meta:1"], labels={"from.cli": "yes"})
    cfg = h.config(build_store, "meta:1")
    c = cfg["config"]
    assert cfg["author"] == "Jane <jane@example.com>"
    assert "APP_HOME=/srv/app" in c["Env"] and "VERSION=1.0" in c["Env"]
    assert c["Labels"] == {"org.example.version": "1.0", "quoted key": "a b", "from.cli": "yes"}
    assert set(c["ExposedPorts"]) == {"80/tcp", "53/udp", "8000/tcp", "8001/tcp"}
    assert set(c["Volumes"]) == {"/data", "/logs"}
    assert c["WorkingDir"] == "/srv/app/sub"
    assert c["User"] == "app:app"
    assert c["StopSignal"] == "SIGQUIT"
    assert c["Healthcheck"] == {
        "Test": ["CMD-SHELL", "wget -q -O- localhost || exit 1"],
        "Interval": 30_000_000_000,
        "Timeout": 3_000_000_000,
        "Retries": 2,
    }
    assert c["Shell"] == ["/bin/sh", "-xc"]
    assert c["OnBuild"] == ["RUN echo triggered > /onbuild.txt"]
    assert c["Entrypoint"] == ["/bin/echo"]
    # CMD after SHELL: wrapped in the new shell; the variable stays for the shell
    assert c["Cmd"] == ["/bin/sh", "-xc", "hello $APP_HOME"]
    by = [x["created_by"] for x in cfg["history"][1:]]
    assert by == [
        "MAINTAINER Jane <jane@example.com>",
        "ARG VERSION=1.0",
        "ENV APP_HOME=/srv/app VERSION=1.0",
        "LABEL org.example.version=1.0 quoted key=a b",
        "EXPOSE map[53/udp:{} 80/tcp:{} 8000/tcp:{} 8001/tcp:{}]",
        "VOLUME [/data /logs]",
        "WORKDIR /srv/app",
        "WORKDIR /srv/app/sub",
        "USER app:app",
        "STOPSIGNAL SIGQUIT",
        'HEALTHCHECK &{["CMD-SHELL" "wget -q -O- localhost || exit 1"] "30s" "3s" "0s" "0s" '
        "'\\x02'}",
        "SHELL [/bin/sh -xc]",
        'ENTRYPOINT ["/bin/echo"]',
        'CMD ["/bin/sh" "-xc" "hello $APP_HOME"]',
    ]
    layered = [x["created_by"] for x in cfg["history"] if not x.get("empty_layer")]
    assert layered[1:] == ["WORKDIR /srv/app", "WORKDIR /srv/app/sub"]
    assert len(cfg["rootfs"]["diff_ids"]) == 3
    tree = h.rootfs(build_store, "meta:1")
    assert tree["srv/app"]["type"] == "5" and tree["srv/app"]["mode"] == 0o755
    # every history entry records its Dockerfile line (in the comment, for inspect)
    from builder.inspect.history import history_rows

    rows = history_rows(cfg, len(cfg["rootfs"]["diff_ids"]))
    assert [r.line for r in rows[1:]] == [2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 15, 16]
    assert rows[0].line is None and len({r.build for r in rows[1:]}) == 1 and rows[1].build
    assert all(x["comment"].startswith("buildkit.dockerfile.v0 ") for x in cfg["history"][1:])


def test_onbuild_triggers_run_in_child(build_store, tmp_path):
    run_build(
        build_store, tmp_path, "FROM busybox\nONBUILD RUN echo hi > /trig\n", tags=["parent:1"]
    )
    _, out = run_build(build_store, tmp_path, "FROM parent:1\nRUN cat /trig\n", tags=["child:1"])
    assert "#2 [2/3] ONBUILD RUN echo hi > /trig" in out
    assert h.read_file(build_store, "child:1", "trig") == b"hi\n"
    hist = h.config(build_store, "child:1")["history"]
    assert hist[-2]["created_by"] == "RUN /bin/sh -c echo hi > /trig # buildkit"
    assert "pybuild:line=1" in hist[-2]["comment"]
    assert "OnBuild" not in h.config(build_store, "child:1")["config"]


def test_onbuild_of_a_stage_runs_in_the_stage_built_on_it(build_store, tmp_path):
    df = (
        "FROM busybox AS base\nONBUILD RUN echo from-stage > /trig\nRUN echo base > /b\n"
        "FROM base\nRUN cat /trig /b > /both\n"
    )
    _, out = run_build(build_store, tmp_path, df, tags=["stagetrig:1"])
    assert "ONBUILD RUN echo from-stage > /trig" in out
    assert h.read_file(build_store, "stagetrig:1", "both") == b"from-stage\nbase\n"
    assert "OnBuild" not in h.config(build_store, "stagetrig:1")["config"]
    # the stage itself keeps its trigger and does not run it
    run_build(build_store, tmp_path, df, tags=["stagetrig:base"], target="base")
    c = h.config(build_store, "stagetrig:base")["config"]
    assert c["OnBuild"] == ["RUN echo from-stage > /trig"]
    assert "trig" not in h.rootfs(build_store, "stagetrig:base")


def test_a_stage_trigger_may_copy_from_a_stage_the_target_did_not_need(build_store, tmp_path):
    df = (
        "FROM busybox AS data\nRUN echo d > /d\n"
        "FROM busybox AS base\nONBUILD COPY --from=data /d /d\n"
        "ONBUILD COPY --from=busybox /bin/busybox /bb\n"
        "FROM base\nRUN cat /d > /seen\n"
    )
    run_build(build_store, tmp_path, df, tags=["trigdep:1"])
    assert h.read_file(build_store, "trigdep:1", "seen") == b"d\n"
    assert "bb" in h.rootfs(build_store, "trigdep:1")


def test_an_image_trigger_may_copy_from_a_stage_of_the_child(build_store, tmp_path):
    run_build(
        build_store,
        tmp_path,
        "FROM busybox\nONBUILD COPY --from=assets /a /a\n",
        tags=["trigimg:1"],
    )
    df = "FROM busybox AS assets\nRUN echo asset > /a\nFROM trigimg:1\nRUN cat /a > /seen\n"
    run_build(build_store, tmp_path, df, tags=["trigimg:child"])
    assert h.read_file(build_store, "trigimg:child", "seen") == b"asset\n"


def test_entrypoint_resets_inherited_cmd(build_store, tmp_path):
    run_build(build_store, tmp_path, "FROM busybox\nENTRYPOINT top -b\n", tags=["ep:1"])
    c = h.config(build_store, "ep:1")["config"]
    assert c["Entrypoint"] == ["/bin/sh", "-c", "top -b"] and "Cmd" not in c
    run_build(build_store, tmp_path, 'FROM busybox\nCMD ["x"]\nENTRYPOINT ["y"]\n', tags=["ep:2"])
    c = h.config(build_store, "ep:2")["config"]
    assert c["Entrypoint"] == ["y"] and c["Cmd"] == ["x"]


def test_user_by_name_and_ids_and_workdir_owner(build_store, tmp_path):
    df = (
        "FROM busybox\nUSER app\nWORKDIR /w\nRUN id -u > /tmp/u && id -g >> /tmp/u "
        "&& touch /w/f\nUSER 1234:4321\nRUN id -u > /tmp/v; id -g >> /tmp/v\n"
    )
    run_build(build_store, tmp_path, df, tags=["user:1"])
    tree = h.rootfs(build_store, "user:1")
    assert (tree["w"]["uid"], tree["w"]["gid"]) == (1000, 1000)
    assert (tree["w/f"]["uid"], tree["w/f"]["gid"]) == (1000, 1000)
    assert h.read_file(build_store, "user:1", "tmp/u") == b"1000\n1000\n"
    assert h.read_file(build_store, "user:1", "tmp/v") == b"1234\n4321\n"


def test_workdir_that_exists_is_an_empty_layer(build_store, tmp_path):
    run_build(build_store, tmp_path, "FROM busybox\nWORKDIR /tmp\nWORKDIR /\n", tags=["wd:1"])
    cfg = h.config(build_store, "wd:1")
    assert [x.get("empty_layer", False) for x in cfg["history"][1:]] == [True, True]
    assert len(cfg["rootfs"]["diff_ids"]) == 1


def test_run_forms_and_heredoc(build_store, tmp_path):
    df = (
        'FROM busybox\nRUN ["/bin/sh", "-c", "echo exec > /exec"]\n'
        "RUN echo shell > /shell\n"
        "RUN <<EOF\necho one > /here\necho two >> /here\nEOF\n"
        "RUN <<EOF\n#!/bin/sh\necho script > /script\nEOF\n"
        "RUN true\n"
    )
    run_build(build_store, tmp_path, df, tags=["run:1"])
    assert h.read_file(build_store, "run:1", "exec") == b"exec\n"
    assert h.read_file(build_store, "run:1", "shell") == b"shell\n"
    assert h.read_file(build_store, "run:1", "here") == b"one\ntwo\n"
    assert h.read_file(build_store, "run:1", "script") == b"script\n"
    cfg = h.config(build_store, "run:1")
    by = [x["created_by"] for x in cfg["history"][1:]]
    assert by[0] == "RUN /bin/sh -c echo exec > /exec # buildkit"
    assert by[1] == "RUN /bin/sh -c echo shell > /shell # buildkit"
    # `RUN true` changes nothing: no layer, as BuildKit drops empty layers
    assert cfg["history"][-1]["empty_layer"] is True
    assert len(cfg["rootfs"]["diff_ids"]) == 5


def test_run_sees_build_args_but_config_does_not(build_store, tmp_path):
    df = "FROM busybox\nARG TOKEN=abc\nRUN echo $TOKEN > /t\n"
    _, out = run_build(
        build_store, tmp_path, df, tags=["arg:1"], build_args={"TOKEN": "xyz", "NOBODY_USES": "1"}
    )
    assert "[Warning] One or more build-args [NOBODY_USES] were not consumed" in out
    assert h.read_file(build_store, "arg:1", "t") == b"xyz\n"
    cfg = h.config(build_store, "arg:1")
    assert not any(e.startswith("TOKEN=") for e in cfg["config"]["Env"])
    assert (
        cfg["history"][-1]["created_by"]
        == "RUN |1 TOKEN=xyz /bin/sh -c echo $TOKEN > /t # buildkit"
    )


def test_whiteouts_hardlinks_symlinks_setuid(build_store, tmp_path):
    df = (
        "FROM busybox\nRUN mkdir -p /d/sub && echo x > /d/sub/f && echo y > /gone\n"
        "RUN rm /gone && rm -rf /d && mkdir /d && echo z > /d/new && "
        "ln /d/new /d/hard && ln -s new /d/sym && chmod 4755 /d/new\n"
    )
    run_build(build_store, tmp_path, df, tags=["wh:1"])
    tree = h.rootfs(build_store, "wh:1")
    assert "gone" not in tree and "d/sub" not in tree and "d/sub/f" not in tree
    assert tree["d/new"]["mode"] == 0o4755
    assert tree["d/sym"]["type"] == "2" and tree["d/sym"]["link"] == "new"
    assert tree["d/hard"]["type"] == "1" or tree["d/hard"]["sha"] == tree["d/new"]["sha"]
    names = h.layer_files(build_store, "wh:1", 2)
    assert any(n.endswith(".wh.gone") for n in names)
    assert any(n.endswith(".wh..wh..opq") for n in names)


def test_a_base_without_path_gets_the_default_path(build_store, busybox_image, tmp_path):
    # an imported root filesystem has no Env at all; BuildKit sets PATH before the
    # stage's instructions see the environment, so the image and $PATH both have it
    from builder.config_ops import DEFAULT_PATH
    from store.layout import open_store
    from store.oci.config import ContainerConfig
    from store.rootfs_import import import_rootfs

    store = open_store(build_store)
    import_rootfs(store, busybox_image.tar, "bare:1", config=ContainerConfig())
    store.close()
    df = 'FROM bare:1\nENV SEEN=$PATH\nRUN echo "$PATH" > /path.txt\n'
    run_build(build_store, tmp_path, df, tags=["nopath:1"])
    env = h.config(build_store, "nopath:1")["config"]["Env"]
    assert env == [f"PATH={DEFAULT_PATH}", f"SEEN={DEFAULT_PATH}"]
    assert h.read_file(build_store, "nopath:1", "path.txt") == f"{DEFAULT_PATH}\n".encode()
    # a base that sets PATH keeps its own
    run_build(build_store, tmp_path, "FROM busybox\nENV SEEN=$PATH\n", tags=["withpath:1"])
    assert h.config(build_store, "withpath:1")["config"]["Env"][0] == f"PATH={DEFAULT_PATH}"
