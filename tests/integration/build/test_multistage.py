"""Multi-stage: a DAG built in parallel, --target pruning, COPY --from stage name,
index and image."""

from __future__ import annotations

import pytest

from builder.engine.failure import StepError
from tests.fixtures.build import run_build
from tests.integration.build import helpers as h

pytestmark = pytest.mark.root

DAG = """\
FROM busybox AS a
RUN sleep 1 && echo a > /a
FROM busybox AS b
RUN sleep 1 && echo b > /b
FROM busybox AS broken
RUN exit 7
FROM busybox
COPY --from=a /a /out/a
COPY --from=1 /b /out/b
COPY --from=busybox /etc/passwd /out/passwd
"""


def test_independent_stages_run_in_parallel_and_unused_are_skipped(build_store, tmp_path):
    _, out = run_build(build_store, tmp_path, DAG, tags=["dag:1"], progress="json")
    ev = h.events(out)
    started = {e["id"]: e for e in ev if e["event"] == "step_started"}
    done = {e["id"]: e["time"] for e in ev if e["event"] == "step_done"}
    runs = {e["stage"]: e for e in started.values() if e["text"].startswith("RUN sleep")}
    assert set(runs) == {"a", "b"}
    a, b = runs["a"], runs["b"]
    # both sleeps were running at once
    assert a["time"] < done[b["id"]] and b["time"] < done[a["id"]]
    assert not any(e["text"] == "RUN exit 7" for e in started.values())
    tree = h.rootfs(build_store, "dag:1")
    assert h.read_file(build_store, "dag:1", "out/a") == b"a\n"
    assert h.read_file(build_store, "dag:1", "out/b") == b"b\n"
    assert tree["out/passwd"]["size"] > 0


def test_target_builds_only_what_it_needs(build_store, tmp_path):
    _, out = run_build(build_store, tmp_path, DAG, tags=["t:1"], target="a", progress="json")
    texts = [e["text"] for e in h.events(out) if e["event"] == "step_started"]
    assert "RUN sleep 1 && echo b > /b" not in texts
    assert h.read_file(build_store, "t:1", "a") == b"a\n"
    with pytest.raises(StepError) as ei:
        run_build(build_store, tmp_path, DAG, tags=["t:2"], target="broken")
    assert ei.value.exit_status == 7


def test_from_stage_inherits_config_and_layers(build_store, tmp_path):
    df = "FROM busybox AS base\nENV X=1\nRUN echo base > /base\nFROM base\nRUN cat /base > /copy\n"
    run_build(build_store, tmp_path, df, tags=["inh:1"])
    cfg = h.config(build_store, "inh:1")
    assert "X=1" in cfg["config"]["Env"]
    assert h.read_file(build_store, "inh:1", "copy") == b"base\n"
    assert len(cfg["rootfs"]["diff_ids"]) == 3


def test_copy_link_makes_an_independent_layer(build_store, tmp_path):
    (tmp_path / "f.txt").write_text("linked\n")
    df = "FROM busybox\nCOPY --link f.txt /opt/f.txt\n"
    run_build(build_store, tmp_path, df, tags=["link:1"])
    assert h.read_file(build_store, "link:1", "opt/f.txt") == b"linked\n"
    assert sorted(h._clean(n) for n in h.layer_files(build_store, "link:1", 1)) == [
        "opt",
        "opt/f.txt",
    ]


def test_from_platform_selects_the_base_for_that_platform(build_store, tmp_path):
    from store.oci.platform import host_platform

    plat = host_platform()
    df = f"FROM --platform={plat} busybox\nRUN uname -m > /arch\n"
    run_build(build_store, tmp_path, df, tags=["plat:1"], platform=str(plat))
    cfg = h.config(build_store, "plat:1")
    assert (cfg["os"], cfg["architecture"]) == (plat.os, plat.architecture)
    # the stored image is for the host only; asking for another platform tries a pull
    # (here from a closed local port, so it fails at once) and never uses the wrong one
    from store.layout import open_store

    s = open_store(build_store)
    s.refs.set("127.0.0.1:1/busybox:latest", s.refs.get("busybox:latest"))
    with pytest.raises(StepError) as ei:
        run_build(
            build_store,
            tmp_path,
            "FROM --platform=linux/s390x 127.0.0.1:1/busybox\nRUN true\n",
            tags=["p:2"],
        )
    assert str(ei.value).startswith("Dockerfile:1:")
    assert "pull 127.0.0.1:1/busybox" in str(ei.value)
