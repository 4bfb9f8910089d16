"""Crash safety of builds and `prune`: SIGKILL at random moments; after
every kill fsck is clean, no mount or cgroup of ours is left (or the next start cleans
them and says so), and the next build succeeds reusing the finished steps."""

from __future__ import annotations

import random
import re
import statistics
import time
from pathlib import Path

from tests.robustness.conftest import (
    TRIALS,
    kill_at_random,
    mounts_under,
    pybuild,
    pybuild_cgroups,
    time_after_ready,
)
from tests.robustness.helpers import (
    assert_no_mounts,
    assert_store_valid,
    leaked_cgroups,
    wait_gone,
)

DOCKERFILE = """FROM busybox
RUN echo shared > /shared
COPY f /f
RUN echo {n} > /trial && sleep 0.05
RUN cat /f /trial > /both
"""


def test_sigkill_during_build(build_store: Path, tmp_path: Path, rng: random.Random) -> None:
    ctx = tmp_path / "ctx"
    ctx.mkdir()
    (ctx / "f").write_text("content\n")
    root = build_store
    cleaned = 0
    kills = 0
    (ctx / "Dockerfile").write_text(DOCKERFILE.format(n="warm"))
    pybuild(root, "build", "--network", "none", "-t", "t:warm", str(ctx))
    # the window kills should hit: 80% of the median of three trial-like builds, timed
    # from "ready" (after the imports)
    runs = []
    for n in ("w1", "w2", "w3"):
        (ctx / "Dockerfile").write_text(DOCKERFILE.format(n=n))
        runs.append(
            time_after_ready(
                root, ["build", "--network", "none", "--memory", "128m", "-t", f"t:{n}", str(ctx)]
            )
        )
    window = max(0.05, 0.8 * statistics.median(runs))
    for n in range(TRIALS):
        (ctx / "Dockerfile").write_text(DOCKERFILE.format(n=n))
        before_cg, since = pybuild_cgroups(), time.time()
        k = kill_at_random(
            root,
            [
                "build",
                "--progress",
                "plain",
                "--network",
                "none",
                "--memory",
                "128m",
                "-t",
                f"t:{n}",
                str(ctx),
            ],
            rng,
            window,
        )
        kills += not k.finished
        # The next pybuild start (here: a complete build of the same file) must clean
        # whatever the killed one left and say so.
        stale = mounts_under(root)
        out = pybuild(
            root,
            "build",
            "--progress",
            "plain",
            "--network",
            "none",
            "--memory",
            "128m",
            "-t",
            f"t:{n}",
            str(ctx),
        )
        text = out.stdout + out.stderr
        if stale:
            cleaned += 1
            assert re.search(r"clean(ed)? up .*(mount|snapshot)", text), text
        assert_no_mounts(root)
        assert_store_valid(root)
        left = leaked_cgroups(before_cg, since)
        if left:  # the completing build ran no RUN step: the next sandbox start cleans
            out = pybuild(
                root, "run", "--rm", "--network", "none", "--memory", "64m", "t:warm", "true"
            )
            assert "cleaned up cgroup" in out.stderr, out.stderr
            assert not wait_gone(left), f"cgroups left behind: {left}"
        # Steps that do not depend on the trial were finished long ago: always reused.
        assert "#2 CACHED" in text and "#3 CACHED" in text, text
    assert kills >= TRIALS // 3, f"only {kills} of {TRIALS} trials were killed mid-run"
    print(f"{kills} kills, {cleaned} needed a startup cleanup")
