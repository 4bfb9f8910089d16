"""With the store on a small tmpfs, a build that does not fit fails with
"no space left on the store (needs ~X MB)", the store stays valid, and once space is
freed the same build succeeds (reusing the steps that did fit)."""

from __future__ import annotations

import os
import re
from pathlib import Path

import pytest

from tests.robustness.conftest import pybuild
from tests.robustness.helpers import assert_no_mounts, assert_store_valid

MESSAGE = re.compile(r"no space left on the store \(needs ~(\d+) MB\)")
CASES = {
    # the copy into the step's upper dir fails
    "copy": ("COPY big /big\n", 60),
    # the RUN command itself gets ENOSPC writing into the overlay
    "run-write": ("RUN head -c 40000000 /dev/urandom > /z\n", 1),
    # the upper dir fits, the layer blob made from it does not
    "layer-commit": ("RUN head -c 22000000 /dev/urandom > /z\n", 1),
}


@pytest.mark.parametrize("case", sorted(CASES))
def test_build_on_a_full_store(case: str, small_mount, busybox_image, tmp_path: Path) -> None:
    step, min_mb = CASES[case]
    fs = small_mount("100m")
    root = fs / "store"
    busybox_image.load(root)
    ctx = tmp_path / "ctx"
    ctx.mkdir()
    (ctx / "big").write_bytes(os.urandom(30 << 20))
    (ctx / "small").write_text("fits\n")
    (ctx / "Dockerfile").write_text("FROM busybox\nCOPY small /small\n" + step)
    ballast = fs / "ballast"
    free = os.statvfs(fs).f_bavail * os.statvfs(fs).f_frsize
    keep = {"layer-commit": 34 << 20}.get(case, 20 << 20)
    ballast.write_bytes(b"\0" * max(0, free - keep))
    out = pybuild(
        root,
        "build",
        "--progress",
        "plain",
        "--network",
        "none",
        "-t",
        "big:1",
        str(ctx),
        check=False,
    )
    assert out.returncode == 1, out.stdout + out.stderr
    last = out.stderr.strip().splitlines()[-1]
    m = MESSAGE.search(last)
    assert m and int(m.group(1)) >= min_mb, out.stderr
    assert "Dockerfile:3" in last  # names the step that did not fit
    assert_store_valid(root)
    assert_no_mounts(root)
    ballast.unlink()  # space is freed
    out = pybuild(
        root, "build", "--progress", "plain", "--network", "none", "-t", "big:1", str(ctx)
    )
    assert "#2 CACHED" in out.stdout + out.stderr  # the step that fitted was kept
    assert_store_valid(root)
    run = pybuild(root, "run", "--rm", "--network", "none", "big:1", "cat", "/small")
    assert run.stdout == "fits\n"
