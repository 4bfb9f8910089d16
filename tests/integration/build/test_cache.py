"""The build cache: hits execute nothing, misses say why, --no-cache, persistence."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time

import pytest

from tests.fixtures.build import run_build
from tests.integration.build import helpers as h

pytestmark = pytest.mark.root

DF = """\
FROM busybox
ARG VERSION=1.0
COPY src/ /app/src/
RUN echo $VERSION > /app/version && cat /proc/sys/kernel/random/uuid > /app/stamp
RUN cat /app/src/app.py > /app/copy
"""


def _ctx(tmp_path):
    (tmp_path / "src").mkdir(exist_ok=True)
    (tmp_path / "src" / "app.py").write_text("print(1)\n")
    (tmp_path / "src" / "util.py").write_text("x = 1\n")
    old = time.time() - 60  # not "racily clean": the file-hash cache may keep them
    for p in (tmp_path / "src").iterdir():
        os.utime(p, (old, old))
    return tmp_path


def _steps(out):
    ev = h.events(out)
    started = {e["id"]: e for e in ev if e["event"] == "step_started"}
    cached = {e["id"] for e in ev if e["event"] == "step_cached"}
    logs = [e for e in ev if e["event"] == "step_log"]
    return {s["text"]: (s["id"] in cached, s["reason"]) for s in started.values()}, logs


def test_noop_rebuild_is_all_cached_and_same_image(build_store, tmp_path):
    ctx = _ctx(tmp_path)
    r1, _ = run_build(build_store, ctx, DF, tags=["c:1"], progress="json")
    r2, out = run_build(build_store, ctx, DF, tags=["c:2"], progress="json")
    steps, logs = _steps(out)
    assert all(hit for text, (hit, _) in steps.items() if not text.startswith("FROM"))
    assert logs == []
    assert r1.image_id == r2.image_id
    # the file-hash cache made it stat-only: no source file was opened again
    assert r1.file_hashes["opens"] >= 2 and r2.file_hashes["opens"] == 0
    assert r2.file_hashes["hits"] >= 2 and r2.file_hashes["bytes_read"] == 0
    assert h.read_file(build_store, "c:1", "app/stamp") == h.read_file(
        build_store, "c:2", "app/stamp"
    )


def test_miss_reasons(build_store, tmp_path):
    ctx = _ctx(tmp_path)
    run_build(build_store, ctx, DF, tags=["m:1"], progress="json")
    (ctx / "src" / "app.py").write_text("print(2)\n")
    _, out = run_build(build_store, ctx, DF, tags=["m:2"], progress="json")
    steps, _ = _steps(out)
    assert steps["COPY src/ /app/src/"] == (False, "re-ran: src/app.py changed")
    report = [e["report"] for e in h.events(out) if e["event"] == "cache_report"][0]
    assert (report["cached"], report["reran"]) == (0, 3)
    assert report["outcomes"][0]["kind"] == "source-changed"
    assert steps[
        "RUN echo $VERSION > /app/version && cat /proc/sys/kernel/random/uuid > /app/stamp"
    ] == (False, "re-ran: parent step 2 re-ran")
    _, out = run_build(
        build_store, ctx, DF, tags=["m:3"], progress="json", build_args={"VERSION": "1.1"}
    )
    steps, _ = _steps(out)
    assert steps["COPY src/ /app/src/"][1] == "re-ran: build arg VERSION changed (1.0 -> 1.1)"
    assert h.read_file(build_store, "m:3", "app/version") == b"1.1\n"


def test_plain_progress_shows_cached_and_reasons(build_store, tmp_path):
    ctx = _ctx(tmp_path)
    run_build(build_store, ctx, DF, tags=["p:1"])
    (ctx / "src" / "util.py").write_text("x = 2\n")
    _, out = run_build(build_store, ctx, DF, tags=["p:2"])
    assert "re-ran: src/util.py changed" in out
    assert "CACHED" not in out.split("COPY src/")[1]
    _, out = run_build(build_store, ctx, DF, tags=["p:3"])
    assert out.count("CACHED") == 3
    assert "3 steps: 3 cached, 0 re-ran" in out  # inspect's end-of-build cache report


def test_no_cache_reruns_everything(build_store, tmp_path):
    ctx = _ctx(tmp_path)
    run_build(build_store, ctx, DF, tags=["n:1"])
    _, out = run_build(build_store, ctx, DF, tags=["n:2"], no_cache=True, progress="json")
    steps, _ = _steps(out)
    assert all(
        not hit and reason == "re-ran: --no-cache"
        for t, (hit, reason) in steps.items()
        if not t.startswith("FROM")
    )
    assert h.read_file(build_store, "n:1", "app/stamp") != h.read_file(
        build_store, "n:2", "app/stamp"
    )


def test_env_change_invalidates_following_steps_only(build_store, tmp_path):
    df1 = "FROM busybox\nRUN echo a > /a\nENV X=1\nRUN echo $X > /x\n"
    df2 = df1.replace("X=1", "X=2")
    run_build(build_store, tmp_path, df1, tags=["e:1"])
    _, out = run_build(build_store, tmp_path, df2, tags=["e:2"], progress="json")
    steps, _ = _steps(out)
    assert steps["RUN echo a > /a"][0] is True
    assert steps["RUN echo $X > /x"] == (False, "re-ran: env X changed (1 -> 2)")


def test_plan_cache_skips_the_front_end_until_an_input_changes(build_store, tmp_path, monkeypatch):
    import builder.frontend.plan

    calls = []
    real = builder.frontend.plan.make_plan

    def counting(*a, **kw):
        calls.append(1)
        return real(*a, **kw)

    monkeypatch.setattr(builder.frontend.plan, "make_plan", counting)
    run_build(build_store, tmp_path, "FROM busybox\nENV X=one\n", tags=["pbase:1"])
    child = "FROM pbase:1\nARG N=0\nRUN echo $X $N > /x\n"
    run_build(build_store, tmp_path, child, tags=["pchild:1"])
    n = len(calls)
    res, _ = run_build(build_store, tmp_path, child, tags=["pchild:1"])
    assert len(calls) == n  # planned from the cache
    assert h.read_file(build_store, "pchild:1", "x") == b"one 0\n"
    run_build(build_store, tmp_path, child, tags=["pchild:1"], build_args={"N": "1"})
    assert len(calls) == n + 1 and h.read_file(build_store, "pchild:1", "x") == b"one 1\n"
    # the base tag now names another image: its ENV must be seen, so plan again
    run_build(build_store, tmp_path, "FROM busybox\nENV X=two\n", tags=["pbase:1"])
    n = len(calls)
    fresh, _ = run_build(build_store, tmp_path, child, tags=["pchild:1"])
    assert len(calls) == n + 1
    assert h.read_file(build_store, "pchild:1", "x") == b"two 0\n"
    # the cached plan builds the very same image as the fresh one
    again, _ = run_build(build_store, tmp_path, child, tags=["pchild:1"])
    assert len(calls) == n + 1 and again.image_id == fresh.image_id != res.image_id


# What a no-op rebuild may not load: the parser and the rest of the front end (the plan
# comes from the plan cache), the sandbox (nothing runs: only its empty package seam
# loads), the registry client (the base is local), ADD's archive support, and
# `inspect`/`ast` (a dataclass without a docstring makes `dataclasses` ask inspect for a
# signature). Nor may it define a TypedDict: `typing` compiles every field's annotation
# text when one is defined (those are for the type checker, under TYPE_CHECKING).
NOOP_FORBIDDEN = (
    "lark",
    "builder.frontend._dockerfile_parser",
    "builder.frontend.syntax",
    "builder.frontend.lineparsers",
    "builder.frontend.expand",
    "builder.frontend.plan",
    "builder.sandbox",
    "builder.add",
    "builder.local_archive",
    "registry_client.transport",
    "registry_client.client",
    "requests",
    "ast",
)
NOOP_PROBE = r"""
import json, sys
from builder import startup
startup.defer_inspect()
startup.install_dataclass_cache()
from builder.cli import main
code = main(sys.argv[1:])
real_inspect = type(sys.modules.get("inspect")).__name__ == "module"
typed_dicts = sorted(
    f"{name}.{k}"
    for name, m in list(sys.modules.items())
    if name.split(".")[0] in ("builder", "store", "registry_client")
    for k, v in vars(m).items()
    if type(v).__name__ == "_TypedDictMeta"
)
print(json.dumps({"code": code, "modules": sorted(sys.modules), "inspect": real_inspect,
                  "typed_dicts": typed_dicts}))
"""


def test_a_noop_rebuild_loads_neither_the_parser_the_sandbox_nor_the_registry(
    build_store, tmp_path
):
    from tests.fixtures.common import REPO

    (tmp_path / "ctx").mkdir()
    ctx = _ctx(tmp_path / "ctx")
    (ctx / "Dockerfile").write_text(
        "FROM busybox\nWORKDIR /app\nCOPY <<EOF /app/note\nhi\nEOF\n"
        "COPY src/ /app/src/\nRUN cat /app/src/app.py > /app/copy\nENV A=1\n"
        'LABEL a=b\nCMD ["sh"]\n'
    )
    env = {**os.environ, "PYBUILD_ROOT": str(build_store), "PYTHONPATH": str(REPO)}
    env["XDG_CACHE_HOME"] = str(tmp_path / "xdg")
    argv = [sys.executable, "-c", NOOP_PROBE, "build", "-q", "-t", "noop:1", str(ctx)]
    for _ in range(2):  # the first builds and fills the plan cache
        p = subprocess.run(argv, capture_output=True, text=True, env=env, cwd=tmp_path)
        assert p.returncode == 0, p.stderr
    got = json.loads(p.stdout.splitlines()[-1])
    assert got["code"] == 0
    seams = {"builder.sandbox"}  # the package seam itself, empty until used
    loaded = [
        m
        for m in got["modules"]
        if any(m == f or m.startswith(f + ".") for f in NOOP_FORBIDDEN) and m not in seams
    ]
    assert loaded == [] and got["inspect"] is False
    assert got["typed_dicts"] == []
