"""Fixtures for the robustness suite: trial counts, a CLI runner that can be
SIGKILLed at a random moment, leak checks for mounts and cgroups, and a small image.

`PYBUILD_SOAK=1` multiplies the trial counts (the CI profile runs the issue's minimum
of 30 trials per crash scenario, each kept cheap: small images, short delays)."""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.fixtures.common import REPO
from tests.fixtures.mounts import mounts_under, unmount_under  # noqa: F401 - re-exported

SOAK = os.environ.get("PYBUILD_SOAK", "") not in ("", "0")
TRIALS = int(os.environ.get("PYBUILD_TRIALS", "0")) or (150 if SOAK else 30)
CGROUP_ROOT = Path("/sys/fs/cgroup")

# The child imports everything first, says "ready", then runs the real CLI entry point;
# the random delay starts at "ready" so kills land in pybuild's work, not in imports.
_PRELOAD = """
import sys
import builder.cli, builder.engine, builder.sandbox, store.layout, store.gc, store.fsck
import registry_client.pull, registry_client.push, builder.commands.build
import builder.commands.pull, builder.commands.push, builder.commands.prune
print("ready", flush=True)
sys.exit(builder.cli.main(sys.argv[1:]))
"""


def env_for(root: Path, **extra: str) -> dict[str, str]:
    return {**os.environ, "PYTHONPATH": str(REPO), "PYBUILD_ROOT": str(root), **extra}


def pybuild(
    root: Path, *args: str, timeout: float = 120, check: bool = True, **extra: str
) -> subprocess.CompletedProcess[str]:
    """Run the real `pybuild` CLI on the store at `root` to completion."""
    out = subprocess.run(
        [sys.executable, "-m", "builder.cli", *args],
        cwd=REPO,
        env=env_for(root, **extra),
        capture_output=True,
        text=True,
        timeout=timeout,
    )
    if check:
        assert out.returncode == 0, f"pybuild {' '.join(args)}: {out.stdout}{out.stderr}"
    return out


@dataclass
class Killed:
    delay: float
    finished: bool  # the command ended on its own before the kill
    returncode: int


def kill_at_random(
    root: Path, args: list[str], rng: random.Random, max_delay: float, **extra: str
) -> Killed:
    """Start `pybuild ARGS`, wait a random time after its imports, SIGKILL it."""
    p = subprocess.Popen(
        [sys.executable, "-c", _PRELOAD, *args],
        cwd=REPO,
        env=env_for(root, **extra),
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    assert p.stdout is not None
    assert p.stdout.readline().strip() == b"ready"
    delay = rng.uniform(0, max_delay)
    time.sleep(delay)
    finished = p.poll() is not None
    if not finished:
        p.send_signal(signal.SIGKILL)
    p.wait()
    p.stdout.close()
    return Killed(delay, finished, p.returncode)


def time_after_ready(root: Path, args: list[str], **extra: str) -> float:
    """Seconds `pybuild ARGS` runs after its imports (the window kills should hit)."""
    p = subprocess.Popen(
        [sys.executable, "-c", _PRELOAD, *args],
        cwd=REPO,
        env=env_for(root, **extra),
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
    )
    assert p.stdout is not None
    assert p.stdout.readline().strip() == b"ready"
    t0 = time.monotonic()
    p.communicate()
    assert p.returncode == 0, f"pybuild {' '.join(args)} failed"
    return time.monotonic() - t0


def pybuild_cgroups() -> set[Path]:
    """Every step cgroup pybuild has under any hierarchy."""
    found: set[Path] = set()
    for h in CGROUP_ROOT.iterdir():
        parent = h / "pybuild"
        if parent.is_dir():
            found |= {d for d in parent.iterdir() if d.is_dir()}
    return found


def cgroup_empty(d: Path) -> bool:
    try:
        return not (d / "cgroup.procs").read_text().strip()
    except OSError:
        return True


@pytest.fixture
def rng(request: pytest.FixtureRequest) -> random.Random:
    seed = int(os.environ.get("PYBUILD_SEED", "0")) or random.randrange(1 << 30)
    print(f"robustness seed {seed} (PYBUILD_SEED={seed} replays)")
    return random.Random(seed)


@pytest.fixture
def small_mount(tmp_path: Path) -> Iterator[callable]:
    """`small_mount(size)` mounts a tmpfs of `size` under tmp_path; unmounted after."""
    made: list[Path] = []

    def mount(size: str, name: str = "small") -> Path:
        d = tmp_path / name
        d.mkdir()
        subprocess.run(
            ["mount", "-t", "tmpfs", "-o", f"size={size},mode=0755", "tmpfs", str(d)], check=True
        )
        made.append(d)
        return d

    yield mount
    for d in reversed(made):
        unmount_under(d)
