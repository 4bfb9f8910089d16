"""Benchmark: analyse a 1 GB, 100,000-file, 10-layer image (< 10 s, peak RSS
< 300 MB). The image is an OCI layout generated once under a temp dir; layers 2..9
overwrite and delete part of the earlier files so the waste tree is exercised.

Anchor: GNU tar listing every layer (`tar -tvf` / `tar -tzvf`), the least work any
tool can do to see every header. Prints median seconds, peak RSS and the ratio.

    python3 bench/inspect_speed.py [--files 100000] [--layers 10] [--mb 1024]
                                   [--runs 3] [--gzip] [--keep DIR]
"""

from __future__ import annotations

import argparse
import gzip
import hashlib
import json
import os
import resource
import shutil
import statistics
import subprocess
import sys
import tarfile
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


class _Zero:
    """A file-like of `n` bytes from a fixed pseudo-random block (cheap to make)."""

    BLOCK = hashlib.sha256(b"pybuild").digest() * 2048

    def __init__(self, n: int) -> None:
        self.left = n

    def read(self, k: int = -1) -> bytes:
        k = self.left if k < 0 else min(k, self.left)
        self.left -= k
        reps = k // len(self.BLOCK) + 1
        return (self.BLOCK * reps)[:k]


def make_image(root: Path, files: int, layers: int, total: int, use_gzip: bool) -> None:
    (root / "blobs" / "sha256").mkdir(parents=True)
    per_layer = files // layers
    size = total // files
    descs, diff_ids = [], []
    for li in range(layers):
        tmp = root / f"layer{li}.tar"
        with open(tmp, "wb") as raw:
            out = (
                gzip.GzipFile(fileobj=raw, mode="wb", compresslevel=1, mtime=0) if use_gzip else raw
            )
            with tarfile.open(fileobj=out, mode="w|", format=tarfile.PAX_FORMAT) as tf:
                for i in range(per_layer):
                    # layers > 0 overwrite a tenth of the previous layer's files
                    if li and i < per_layer // 10:
                        name = f"l{li - 1}/d{(i // 100):04d}/f{i:06d}"
                    else:
                        name = f"l{li}/d{(i // 100):04d}/f{i:06d}"
                    ti = tarfile.TarInfo(name)
                    ti.size = size
                    ti.mode = 0o644
                    tf.addfile(ti, _Zero(size))
                if li:
                    ti = tarfile.TarInfo(f"l{li - 1}/d0009/.wh.f000950")
                    tf.addfile(ti)
            if use_gzip:
                out.close()
        h = hashlib.sha256()
        with open(tmp, "rb") as f:
            while b := f.read(1 << 20):
                h.update(b)
        digest = h.hexdigest()
        tmp.rename(root / "blobs" / "sha256" / digest)
        descs.append(
            {
                "mediaType": "application/vnd.oci.image.layer.v1.tar"
                + ("+gzip" if use_gzip else ""),
                "digest": f"sha256:{digest}",
                "size": (root / "blobs" / "sha256" / digest).stat().st_size,
            }
        )
        diff_ids.append(f"sha256:{digest}")  # not checked by inspect

    def put(obj: dict) -> dict:
        data = json.dumps(obj).encode()
        d = hashlib.sha256(data).hexdigest()
        (root / "blobs" / "sha256" / d).write_bytes(data)
        return {"digest": f"sha256:{d}", "size": len(data)}

    cfg = put(
        {
            "architecture": "amd64",
            "os": "linux",
            "rootfs": {"type": "layers", "diff_ids": diff_ids},
            "history": [
                {"created_by": f"RUN /bin/sh -c step{i}", "comment": f"pybuild:line={i + 2}"}
                for i in range(layers)
            ],
        }
    )
    man = put(
        {
            "schemaVersion": 2,
            "mediaType": "application/vnd.oci.image.manifest.v1+json",
            "config": {"mediaType": "application/vnd.oci.image.config.v1+json", **cfg},
            "layers": descs,
        }
    )
    (root / "oci-layout").write_text('{"imageLayoutVersion":"1.0.0"}')
    (root / "index.json").write_text(
        json.dumps(
            {
                "schemaVersion": 2,
                "manifests": [{"mediaType": "application/vnd.oci.image.manifest.v1+json", **man}],
            }
        )
    )


def timed(cmd: list[str], env: dict[str, str] | None = None) -> tuple[float, int]:
    """Wall seconds and the child's peak RSS in MB (fresh process per run)."""
    wrapper = [
        sys.executable,
        "-c",
        "import resource,subprocess,sys,time;t=time.perf_counter();"
        "r=subprocess.run(sys.argv[1:],stdout=subprocess.DEVNULL);"
        "d=time.perf_counter()-t;"
        "print(d, resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss, r.returncode)",
        *cmd,
    ]
    out = subprocess.run(wrapper, capture_output=True, text=True, env=env, check=True).stdout
    secs, rss_kb, rc = out.split()
    if rc != "0":
        raise SystemExit(f"{cmd[:3]} failed with {rc}")
    return float(secs), int(rss_kb) // 1024


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--files", type=int, default=100_000)
    ap.add_argument("--layers", type=int, default=10)
    ap.add_argument("--mb", type=int, default=1024)
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--gzip", action="store_true", help="gzip the layers (level 1)")
    ap.add_argument("--keep", type=Path, default=None, help="reuse/keep the image here")
    a = ap.parse_args()
    work = a.keep or Path(tempfile.mkdtemp(prefix="inspect-bench-"))
    img = work / ("img-gz" if a.gzip else "img")
    try:
        if not (img / "index.json").exists():
            t = time.perf_counter()
            make_image(img, a.files, a.layers, a.mb << 20, a.gzip)
            print(
                f"generated {a.files} files / {a.layers} layers / {a.mb} MB "
                f"in {time.perf_counter() - t:.1f} s",
                file=sys.stderr,
            )
        env = dict(os.environ, PYTHONPATH=str(REPO))
        ours = [sys.executable, "-m", "builder.cli", "inspect", f"oci:{img}", "--json"]
        blobs = sorted((img / "blobs" / "sha256").iterdir(), key=lambda p: p.stat().st_size)
        layers = blobs[-a.layers :]
        anchor = [
            "sh",
            "-c",
            " && ".join(f"tar -t{'z' if a.gzip else ''}vf {p} >/dev/null" for p in layers),
        ]
        res_o, res_a = [], []
        for _ in range(a.runs):
            res_o.append(timed(ours, env))
            res_a.append(timed(anchor))
        mo = statistics.median(s for s, _ in res_o)
        ma = statistics.median(s for s, _ in res_a)
        rss = max(r for _, r in res_o)
        print(
            f"inspect {'gzip' if a.gzip else 'uncompressed'} {a.mb} MB {a.files} files "
            f"{a.layers} layers: median {mo:.2f} s, peak RSS {rss} MB "
            f"(budget 10 s / 300 MB)"
        )
        print(
            f"anchor tar -t{'z' if a.gzip else ''}vf all layers: median {ma:.2f} s; "
            f"ratio inspect/anchor {mo / ma:.2f}"
        )
        return 0 if mo < 10 and rss < 300 else 1
    finally:
        if a.keep is None:
            shutil.rmtree(work, ignore_errors=True)
        _ = resource


if __name__ == "__main__":
    sys.exit(main())
