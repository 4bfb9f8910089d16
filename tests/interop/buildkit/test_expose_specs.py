"""EXPOSE's port specs against Docker's BuildKit: a spec it rejects, `pybuild plan`
rejects with the same message (at the instruction's line and column, before any
step runs); a spec it takes gives the same ExposedPorts."""

from __future__ import annotations

import json
import re

import pytest

from builder.frontend.ports import PortSpecError, parse_port_specs

pytestmark = [pytest.mark.interop, pytest.mark.root]

SPECS = [
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
]


def _buildkit(dockerd, tmp_path, spec: str) -> tuple[list[str] | None, str]:  # type: ignore[no-untyped-def]
    """(ExposedPorts, "") when BuildKit builds it, else (None, its error message)."""
    ctx = tmp_path / re.sub(r"\W", "_", spec)
    ctx.mkdir()
    (ctx / "Dockerfile").write_text(f"FROM busybox\nEXPOSE {spec}\n")
    tag = f"expose-{SPECS.index(spec)}:1"
    built = dockerd.docker("build", "--network=none", "-t", tag, str(ctx), check=False)
    if built.returncode != 0:
        why = [x for x in built.stderr.splitlines() if "failed to create LLB definition" in x]
        assert why, built.stderr
        return None, why[-1].split("failed to create LLB definition: ", 1)[1]
    cfg = json.loads(dockerd.docker("inspect", tag).stdout)[0]["Config"]
    return sorted(cfg.get("ExposedPorts") or {}), ""


@pytest.mark.parametrize("spec", SPECS)
def test_a_spec_means_what_it_means_to_buildkit(dockerd, docker_busybox, tmp_path, spec):  # type: ignore[no-untyped-def]
    ports, error = _buildkit(dockerd, tmp_path, spec)
    try:
        ours = sorted(parse_port_specs([spec]))
    except PortSpecError as e:
        assert ports is None, f"BuildKit takes {spec!r}"
        assert str(e) == error
        return
    assert ports == ours
