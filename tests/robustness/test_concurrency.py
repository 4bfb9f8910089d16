"""Four builds of different Dockerfiles that share base layers run at once
on one store, while `pybuild prune` / `prune --all` run back to back beside them
(the first starts with the builds). All succeed, and no
layer one of them needs is removed (the builds' leases protect their content)."""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

from store.image import resolve_image
from store.layout import open_store
from tests.robustness.conftest import REPO, env_for, pybuild
from tests.robustness.helpers import assert_no_mounts, assert_store_valid

SHARED = "FROM busybox\nRUN echo shared-base > /base && sleep 0.2\nCOPY common /common\n"
TAILS = [
    "RUN echo one > /one\nRUN sleep 0.3; echo done > /d\n",
    "RUN echo two > /two && head -c 200000 /dev/urandom > /r\n",
    "WORKDIR /app\nRUN echo three > three\nRUN sleep 0.2; cat /common > copy\n",
    "RUN mkdir -p /x/y && echo four > /x/y/f\nENV X=4\nRUN sleep 0.2; ls /x > /ls\n",
]


def _build(root: Path, ctx: Path, n: int, no_cache: bool) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [
            sys.executable,
            "-m",
            "builder.cli",
            "build",
            "--progress",
            "plain",
            "--network",
            "none",
            "-f",
            str(ctx / f"Dockerfile.{n}"),
            *(["--no-cache"] if no_cache else []),
            "-t",
            f"c{n}:1",
            str(ctx),
        ],
        cwd=REPO,
        env=env_for(root),
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )


def test_four_builds_and_prune_at_once(build_store: Path, tmp_path: Path) -> None:
    root = build_store
    ctx = tmp_path / "ctx"
    ctx.mkdir()
    (ctx / "common").write_text("shared context file\n")
    for n, tail in enumerate(TAILS):
        (ctx / f"Dockerfile.{n}").write_text(SHARED + tail)
    for rnd in range(2):  # a cold round, then one where half the builds skip the cache
        prunes = [
            subprocess.Popen(
                [sys.executable, "-m", "builder.cli", "prune"],
                cwd=REPO,
                env=env_for(root),
                stdout=subprocess.DEVNULL,
            )
        ]
        procs = [_build(root, ctx, n, no_cache=rnd == 1 and n % 2 == 0) for n in range(len(TAILS))]
        while any(p.poll() is None for p in procs):
            if prunes[-1].poll() is not None:
                assert prunes[-1].returncode == 0
                prunes.append(
                    subprocess.Popen(
                        [
                            sys.executable,
                            "-m",
                            "builder.cli",
                            "prune",
                            *(["--all"] if len(prunes) % 2 else []),
                        ],
                        cwd=REPO,
                        env=env_for(root),
                        stdout=subprocess.DEVNULL,
                    )
                )
            time.sleep(0.02)
        for pr in prunes:
            assert pr.wait() == 0
        outs = [p.communicate()[0] for p in procs]
        for n, (p, out) in enumerate(zip(procs, outs, strict=True)):
            assert p.returncode == 0, f"round {rnd} build {n} failed:\n{out}"
        assert_store_valid(root)
        assert_no_mounts(root)
        st = open_store(root)
        for n in range(len(TAILS)):
            img = resolve_image(st, f"c{n}:1")
            assert all(st.blobs.exists(d.digest) for d in img.blobs())
        st.close()
    # Each image runs: its layers and their snapshots are all there.
    for n in range(len(TAILS)):
        out = pybuild(
            root, "run", "--rm", "--network", "none", f"c{n}:1", "cat", "/base", "/common"
        )
        assert out.stdout == "shared-base\nshared context file\n"
