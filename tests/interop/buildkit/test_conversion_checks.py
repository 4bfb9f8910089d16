"""What BuildKit refuses when it converts a stage, pybuild's planner refuses with the
same message (at the instruction's line and column, before any step runs), and what it
takes gives the same config: EXPOSE's port specs, STOPSIGNAL's values, and a VOLUME
or WORKDIR word that expands to nothing, each built by a private dockerd's BuildKit."""

from __future__ import annotations

import json

import pytest

from builder.errors import DockerfileError
from builder.frontend.plan import make_plan

pytestmark = [pytest.mark.interop, pytest.mark.root]

# the body after `FROM busybox`, and the config field it sets
CASES = [
    *(
        (f"EXPOSE {spec}", "ExposedPorts")
        for spec in (
            "80",
            "80/UDP",
            "8000-8002/tcp",
            "0",
            "1.2.3.4:8080:80",
            "8080:80/sctp",
            "8000-8001:80",
            "abc",
            "abc/tcpx",
            "80/tcpx",
            "70000",
            "90-80",
            "80-",
            "bad.ip:8080:80",
            "8000-8001:80-82",
        )
    ),
    *(
        (f"STOPSIGNAL {sig}", "StopSignal")
        for sig in ("SIGTERM", "sigkill", "KILL", "99", "-3", "0", "SIGFOO", "RTMIN+3", "RTMIN+16")
    ),
    ("ARG E\nVOLUME /a $E", "Volumes"),
    ("ARG E\nWORKDIR $E", "WorkingDir"),
    ("WORKDIR /a\nARG E\nWORKDIR $E", "WorkingDir"),
]


def _buildkit(dockerd, tmp_path, n: int, df: str, field: str):  # type: ignore[no-untyped-def]
    """(the config field, "") when BuildKit builds `df`, else (None, its message)."""
    ctx = tmp_path / f"c{n}"
    ctx.mkdir()
    (ctx / "Dockerfile").write_text(df)
    built = dockerd.docker("build", "--network=none", "-t", f"conv-{n}:1", str(ctx), check=False)
    if built.returncode != 0:
        why = [x for x in built.stderr.splitlines() if "failed to create LLB definition" in x]
        assert why, built.stderr
        return None, why[-1].split("failed to create LLB definition: ", 1)[1]
    return json.loads(dockerd.docker("inspect", f"conv-{n}:1").stdout)[0]["Config"].get(field), ""


def _ours(root, ctx, df: str, field: str):  # type: ignore[no-untyped-def]
    from store.image import resolve_image
    from store.layout import open_store
    from tests.fixtures.build import run_build

    res, _ = run_build(root, ctx, df, network="none", tags=["conv:1"])
    cfg = resolve_image(open_store(root), "conv:1").config().to_json()["config"]
    return cfg.get(field)


@pytest.mark.parametrize("n", range(len(CASES)), ids=[c[0] for c in CASES])
def test_what_buildkit_takes_or_refuses_when_converting(dockerd, docker_busybox, tmp_path, n):  # type: ignore[no-untyped-def]
    from tests.interop.buildkit.conftest import load_base

    body, field = CASES[n]
    df = f"FROM busybox\n{body}\n"
    theirs, error = _buildkit(dockerd, tmp_path, n, df, field)
    if theirs is None and error:
        with pytest.raises(DockerfileError) as e:
            make_plan(df)
        assert e.value.message == error
        return
    root = tmp_path / "store"
    load_base(docker_busybox, root)
    assert _ours(root, tmp_path / f"c{n}", df, field) == theirs
