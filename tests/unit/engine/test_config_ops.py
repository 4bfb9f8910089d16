"""config_ops and history: BuildKit's config changes and created_by strings."""

from __future__ import annotations

import pytest

from builder import config_ops as ops
from builder import gofmt
from builder import history as h
from store.oci.platform import Platform


@pytest.fixture
def img():
    return ops.scratch_config(Platform("linux", "amd64"))


def test_scratch_is_buildkit_empty_image(img):
    assert img.config.env == (f"PATH={ops.DEFAULT_PATH}",)
    assert img.config.working_dir == "/"
    assert img.history == ()


def test_env_replaces_in_place_and_appends(img):
    a = ops.env(img, [("A", "1"), ("PATH", "/x")])
    assert a.image.config.env == ("PATH=/x", "A=1")
    assert a.created_by == "ENV A=1 PATH=/x" and not a.with_layer


def test_cmd_shell_form_wraps_in_shell_and_sets_args_escaped(img):
    a = ops.cmd(img, ["echo", '"hi"'], shell_form=True)
    assert a.image.config.cmd == ("/bin/sh", "-c", 'echo "hi"')
    assert a.image.config.args_escaped is True
    assert a.created_by == 'CMD ["/bin/sh" "-c" "echo \\"hi\\""]'


def test_shell_changes_the_wrapper(img):
    s = ops.shell(img, ["/bin/bash", "-xc"])
    assert s.created_by == "SHELL [/bin/bash -xc]"
    e = ops.entrypoint(s.image, ["run", "it"], shell_form=True, cmd_set_in_stage=False)
    assert e.image.config.entrypoint == ("/bin/bash", "-xc", "run it")


def test_entrypoint_resets_cmd_unless_cmd_set_in_stage(img):
    c = ops.cmd(img, ["sh"], shell_form=False).image
    assert ops.entrypoint(c, ["x"], False, cmd_set_in_stage=False).image.config.cmd is None
    assert ops.entrypoint(c, ["x"], False, cmd_set_in_stage=True).image.config.cmd == ("sh",)
    assert ops.entrypoint(c, ["x"], False, False).created_by == 'ENTRYPOINT ["x"]'


def test_expose_ports_and_history(img):
    a = ops.expose(img, ["80", "53/UDP", "8000-8002"])
    assert a.image.config.exposed_ports == ("53/udp", "80/tcp", "8000/tcp", "8001/tcp", "8002/tcp")
    assert a.created_by == "EXPOSE map[53/udp:{} 80/tcp:{} 8000/tcp:{} 8001/tcp:{} 8002/tcp:{}]"
    with pytest.raises(ops.ConfigOpError):
        ops.expose(img, ["80/xyz"])


def test_volume_user_stopsignal_maintainer_label(img):
    assert ops.volume(img, ["/data", "/logs"]).created_by == "VOLUME [/data /logs]"
    assert ops.user(img, "app:app").image.config.user == "app:app"
    assert ops.stopsignal(img, "SIGKILL").created_by == "STOPSIGNAL SIGKILL"
    with pytest.raises(ops.ConfigOpError):
        ops.stopsignal(img, "SIGNOPE")
    m = ops.maintainer(img, "me <me@x>")
    assert m.image.author == "me <me@x>" and m.created_by == "MAINTAINER me <me@x>"
    lab = ops.label(img, [("a", "b c"), ("d", "")])
    assert lab.image.config.labels == {"a": "b c", "d": ""}
    assert lab.created_by == "LABEL a=b c d="


@pytest.mark.parametrize(
    "cur,wd,want",
    [
        ("/", "app", "/app"),
        ("/app", "sub/../x", "/app/x"),
        ("/app", "/abs/", "/abs"),
        ("/a", "..", "/"),
        ("", "x", "/x"),
    ],
)
def test_workdir_relative_to_previous(img, cur, wd, want):
    base = ops._cc(img, working_dir=cur)
    a = ops.workdir(base, wd)
    assert a.image.config.working_dir == want
    assert a.created_by == f"WORKDIR {want}"
    assert a.with_layer == (want != "/")


def test_healthcheck_fields_and_go_format(img):
    a = ops.healthcheck(
        img, ["CMD-SHELL", "curl -f x"], interval=30 * 10**9, timeout=3 * 10**9, retries=3
    )
    hc = a.image.config.to_json()["Healthcheck"]
    assert hc == {
        "Test": ["CMD-SHELL", "curl -f x"],
        "Interval": 30 * 10**9,
        "Timeout": 3 * 10**9,
        "Retries": 3,
    }
    assert a.created_by == (
        'HEALTHCHECK &{["CMD-SHELL" "curl -f x"] "30s" "3s" "0s" "0s" \'\\x03\'}'
    )


def test_onbuild_has_no_history_and_inherit_drops_it(img):
    a = ops.onbuild(img, "RUN echo hi")
    assert a.created_by is None and a.image.config.on_build == ("RUN echo hi",)
    assert ops.inherit(a.image).config.on_build is None


def test_arg_history(img):
    assert ops.arg(img, [("A", "1"), ("B", None)]).created_by == "ARG A=1 B"


def test_run_and_copy_created_by():
    assert h.run_created_by(["/bin/sh", "-c", "make"], []) == "RUN /bin/sh -c make # buildkit"
    assert (
        h.run_created_by(["/bin/sh", "-c", "make"], [("V", "1"), ("W", "2"), ("V", "3")])
        == "RUN |2 V=3 W=2 /bin/sh -c make # buildkit"
    )
    assert (
        h.copy_created_by(False, [".", "b"], "/app", chown="1:1")
        == "COPY --chown=1:1 . b /app # buildkit"
    )
    assert h.copy_created_by(True, ["a.tar"], "/") == "ADD a.tar / # buildkit"


@pytest.mark.parametrize(
    "ns,want",
    [
        (0, "0s"),
        (1, "1ns"),
        (1500, "1.5µs"),
        (2_000_000, "2ms"),
        (90 * 10**9, "1m30s"),
        (3600 * 10**9 + 1, "1h0m0.000000001s"),
    ],
)
def test_go_duration(ns, want):
    assert gofmt.duration(ns) == want


def test_go_quote():
    assert gofmt.quote("a\tb\x01é") == '"a\\tb\\x01é"'
    assert gofmt.quote_rune(65) == "'A'"
