"""The README works on a fresh machine. The Quickstart's first command, read
from the README itself, runs in a fresh `git clone` with a fresh virtualenv (a real
pip install) and a store in tmp; the example image then exists and runs. Then the
Tutorial's command blocks run as written in that clone, with a free port in place of
5000, and its figures change as the README says. (The Quickstart's second command is
the test suite itself, so it is checked, not run: tests/unit/cli/test_docs.py.)"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from tests.fixtures.registry import free_port
from tests.unit.cli.readme import REPO, commands, sh_blocks

pytestmark = [pytest.mark.root, pytest.mark.slow]


@pytest.fixture(scope="module")
def fresh(tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    """A fresh clone + venv where the Quickstart's first command has run."""
    base = tmp_path_factory.mktemp("quickstart")
    clone, venv = base / "clone", base / "venv"
    subprocess.run(["git", "clone", "-q", str(REPO), str(clone)], check=True)
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
    # pip's own settings (index, wheels, certificates, proxies) pass through; its cache is warm
    passed = {
        k: v
        for k, v in os.environ.items()
        if re.match(r"PIP_|(https?|no)_proxy$|(HTTPS?|NO)_PROXY$|SSL_CERT|HOME$", k)
    }
    env = {
        **passed,
        "LANG": "C.UTF-8",
        "VIRTUAL_ENV": str(venv),
        "PATH": f"{venv}/bin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
        "PYBUILD_ROOT": str(base / "store"),
    }
    first = commands(sh_blocks("Quickstart", clone / "README.md")[0])[0]
    p = subprocess.run(
        ["bash", "-c", first], cwd=clone, env=env, capture_output=True, text=True, timeout=600
    )
    assert p.returncode == 0, p.stdout[-3000:] + p.stderr[-3000:]
    assert "quickstart: built hello:latest" in p.stdout
    return {"clone": str(clone), "venv": str(venv), "log": p.stdout + p.stderr, **env}


def _pybuild(fresh: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in fresh.items() if k.isupper()}
    return subprocess.run(
        [f"{fresh['venv']}/bin/pybuild", *args],
        cwd=fresh["clone"],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_quickstart_builds_the_example_in_a_fresh_clone(fresh: dict[str, str]) -> None:
    # pybuild is installed in the venv, from the clone, and nothing else was needed
    pip = subprocess.run(
        [f"{fresh['venv']}/bin/python", "-c", "import builder; print(builder.__file__)"],
        capture_output=True,
        text=True,
        cwd="/",
        env={"PATH": "/usr/bin:/bin"},
    )
    assert pip.stdout.strip().startswith(fresh["clone"]), pip
    images = _pybuild(fresh, "images")
    assert images.returncode == 0
    rows = {tuple(line.split()[:2]) for line in images.stdout.splitlines()[1:]}
    assert {("busybox", "latest"), ("hello", "latest")} <= rows
    run = _pybuild(fresh, "run", "hello:latest")
    assert run.returncode == 0, run.stderr
    assert re.fullmatch(
        r"Hello from pybuild! \(hostname [0-9a-f]{12}, 1 files in /app\)\n", run.stdout
    ), run.stdout
    # the base was made offline from busybox-static by `pybuild import`
    hist = _pybuild(fresh, "history", "--no-trunc", "busybox:latest")
    assert "busybox-static from Debian" in hist.stdout
    assert "#6 [6/6] RUN chmod 755 /app/hello.sh" in fresh["log"]


def test_tutorial_runs_as_written(fresh: dict[str, str]) -> None:
    blocks = sh_blocks("Tutorial", Path(fresh["clone"]) / "README.md")
    assert len(blocks) == 4
    port = str(free_port())
    script = "\n".join(blocks).replace("127.0.0.1:5000", f"127.0.0.1:{port}")
    assert "5000" not in script
    # if a step fails, still stop the registry the tutorial started
    script = (
        "set -euxo pipefail\ntrap 'kill \"${registry_pid:-}\" 2>/dev/null || true' EXIT\n" + script
    )
    tmpdir = Path(fresh["clone"]).parent / "tutorial-tmp"
    tmpdir.mkdir()
    env = {**{k: v for k, v in fresh.items() if k.isupper()}, "TMPDIR": str(tmpdir)}
    p = subprocess.run(
        ["bash", "-c", script],
        cwd=fresh["clone"],
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    failed = [x for x in p.stderr.splitlines() if x.startswith("+ ")][-1:]
    logs = [f.read_text()[-1500:] for f in tmpdir.glob("*/log")]
    assert p.returncode == 0, (failed, logs, p.stdout[-2000:], p.stderr[-2000:])
    out = p.stdout
    # 1: the rebuild is all cache hits; the app runs
    assert "#2 CACHED" in p.stderr and "0 re-ran" in p.stderr
    assert out.count("Hello from pybuild!") == 2
    # 2 and 3: the figures the README quotes, before and after the fix
    flat = " ".join(out.split())  # the Waste line wraps at the console's width
    assert "Waste 1.0 MB a rewrite would not store" in flat
    assert "dive: 1.0 MB wasted, efficiency 65.40 %" in flat
    assert "[chmod-own-layer]" in out and "[deleted-later]" in out
    assert "6 layers," in out and "4 layers," in out
    assert "Waste 0 B a rewrite would not store" in flat and "efficiency 100.00 %" in flat
    assert "No pitfalls found." in out
    # 4: pushed, removed, pulled back and run from the registry's name
    assert re.search(r"^1: digest: sha256:[0-9a-f]{64} size: \d+$", out, re.M)
    rows = {tuple(line.split()[:2]) for line in _pybuild(fresh, "images").stdout.splitlines()}
    assert (f"127.0.0.1:{port}/hello", "1") in rows and ("hello", "fixed") not in rows
    # and the tutorial stopped its registry
    assert subprocess.run(["curl", "-sf", f"http://127.0.0.1:{port}/v2/"]).returncode != 0
