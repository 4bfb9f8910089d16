"""Registry benchmark: push and pull a 5-layer, 200 MB image against a loopback
docker-registry, pybuild vs `skopeo copy` in the same run.

Wall times on a shared machine are noisy, so the CPU time (user+sys) of each process
is printed too. Each push goes to a fresh registry (so neither tool can skip or mount blobs); each pull
goes into an empty store / OCI dir. pybuild runs as its CLI in a subprocess so its
peak RSS (from wait4) is the real process's. Prints medians and ratios.

    python3 bench/registry_push_pull.py [--runs 3] [--mb 200]
"""

from __future__ import annotations

import argparse
import gzip
import hashlib
import json
import os
import random
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from registry_client.pull import pull_image  # noqa: E402
from store.layout import open_store  # noqa: E402
from store.oci.digest import Descriptor, Digest  # noqa: E402
from store.oci.mediatype import OCI_CONFIG, OCI_LAYER_GZIP, OCI_MANIFEST  # noqa: E402
from tests.fixtures.registry import RegistryServer  # noqa: E402
from tests.fixtures.registry_images import Blob, write_oci_layout  # noqa: E402


def make_layers(root: Path, total_mb: int, n: int = 5) -> list[tuple[Path, Descriptor, str]]:
    """n gzip layers of incompressible data (stored deflate blocks, so it is fast)."""
    out = []
    rnd = random.Random(42)
    per = total_mb * (1 << 20) // n
    for i in range(n):
        raw = rnd.randbytes(per)
        gz = gzip.compress(raw, compresslevel=0, mtime=0)
        p = root / f"layer{i}.tar.gz"
        p.write_bytes(gz)
        out.append(
            (
                p,
                Descriptor(OCI_LAYER_GZIP, Digest.of_bytes(gz), len(gz)),
                "sha256:" + hashlib.sha256(raw).hexdigest(),
            )
        )
    return out


# Peak RSS from the process's own VmHWM: wait4's ru_maxrss also counts the pages the
# child shared with this (big) parent between fork and exec.
PYBUILD = [
    sys.executable,
    "-c",
    "import sys; from builder.cli import main; rc = main(sys.argv[1:]); "
    "hwm = [ln for ln in open('/proc/self/status') if ln.startswith('VmHWM')][0]; "
    "sys.stderr.write('PEAK ' + hwm.split()[1] + '\\n'); sys.exit(rc)",
]


CPU: dict[str, list[float]] = {}


def timed(cmd: list[str], env: dict[str, str] | None = None, key: str = "") -> tuple[float, int]:
    """(seconds, peak RSS in kB or 0) of one child process; its CPU time goes to CPU[key]."""
    t0 = time.perf_counter()
    proc = subprocess.Popen(cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    err = proc.stderr.read().decode() if proc.stderr else ""
    _, status, usage = os.wait4(proc.pid, 0)
    dt = time.perf_counter() - t0
    if os.waitstatus_to_exitcode(status) != 0:
        raise SystemExit(f"{' '.join(cmd)} failed: {err[-2000:]}")
    CPU.setdefault(key, []).append(usage.ru_utime + usage.ru_stime)
    peak = [int(ln.split()[1]) for ln in err.splitlines() if ln.startswith("PEAK ")]
    return dt, peak[0] if peak else 0


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--mb", type=int, default=200)
    args = ap.parse_args()
    work = Path(tempfile.mkdtemp(prefix="pybuild-regbench-"))
    servers: list[RegistryServer] = []
    try:
        layers = make_layers(work, args.mb)
        cfg = json.dumps(
            {
                "architecture": "amd64",
                "os": "linux",
                "rootfs": {"type": "layers", "diff_ids": [d for _, _, d in layers]},
            }
        ).encode()
        config = Blob(OCI_CONFIG, cfg)
        man = json.dumps(
            {
                "schemaVersion": 2,
                "mediaType": OCI_MANIFEST,
                "config": config.desc.to_json(),
                "layers": [d.to_json() for _, d, _ in layers],
            }
        ).encode()
        manifest = Blob(OCI_MANIFEST, man)
        # Source for skopeo: an OCI layout; source for pybuild: a store, same blobs.
        layout = write_oci_layout(work / "layout", manifest, [config], "img")
        store_root = work / "store"
        st = open_store(store_root)
        for p, d, _ in layers:
            shutil.copy(p, layout / "blobs" / "sha256" / d.digest.hex)
            with open(p, "rb") as f:
                st.blobs.put(f, d.media_type, expected=d.digest, size=d.size)
            p.unlink()
        import io

        for b in (config, manifest):
            st.blobs.put(io.BytesIO(b.data), b.media_type)
        st.refs.set("bench:1", manifest.desc)
        st.close()

        env = dict(os.environ, PYBUILD_ROOT=str(store_root), PYTHONPATH=str(REPO))
        pybuild = PYBUILD
        res: dict[str, list[float]] = {
            k: [] for k in ("push_skopeo", "push_pybuild", "pull_skopeo", "pull_pybuild")
        }
        rss: list[int] = []
        api: list[float] = []
        for run in range(args.runs):
            for tool in ("skopeo", "pybuild") if run % 2 == 0 else ("pybuild", "skopeo"):
                srv = RegistryServer(work / f"reg-{run}-{tool}").start()
                servers.append(srv)
                ref = f"{srv.host}/bench/{tool}:1"
                if tool == "skopeo":
                    dt, _ = timed(
                        [
                            "skopeo",
                            "copy",
                            "-q",
                            "--dest-tls-verify=false",
                            f"oci:{layout}:img",
                            f"docker://{ref}",
                        ],
                        key="push_skopeo",
                    )
                else:
                    dt, kb = timed(pybuild + ["push", "-q", "bench:1", ref], env, "push_pybuild")
                    rss.append(kb)
                res[f"push_{tool}"].append(dt)
                # Pull back from the registry it was pushed to, into an empty place.
                if tool == "skopeo":
                    dest = work / f"pull-{run}-oci"
                    dt, _ = timed(
                        [
                            "skopeo",
                            "copy",
                            "-q",
                            "--src-tls-verify=false",
                            f"docker://{ref}",
                            f"oci:{dest}:x",
                        ],
                        key="pull_skopeo",
                    )
                else:
                    dest = work / f"pull-{run}-store"
                    penv = dict(env, PYBUILD_ROOT=str(dest))
                    dt, kb = timed(pybuild + ["pull", "-q", ref], penv, "pull_pybuild")
                    rss.append(kb)
                    # The same pull through the API, as `build --pull` makes it: no
                    # interpreter start-up or imports in the measurement.
                    api_store = open_store(work / f"pull-{run}-api")
                    t0 = time.perf_counter()
                    pull_image(api_store, ref)
                    api.append(time.perf_counter() - t0)
                    api_store.close()
                    shutil.rmtree(work / f"pull-{run}-api", ignore_errors=True)
                res[f"pull_{tool}"].append(dt)
                shutil.rmtree(dest, ignore_errors=True)
                srv.stop()
                shutil.rmtree(srv.workdir, ignore_errors=True)
        med = {k: statistics.median(v) for k, v in res.items()}
        print(f"image: 5 layers, {args.mb} MB; runs: {args.runs}; loopback docker-registry")
        for op in ("push", "pull"):
            s, p = med[f"{op}_skopeo"], med[f"{op}_pybuild"]
            print(
                f"{op}: pybuild {p:.2f}s  skopeo {s:.2f}s  ratio {p / s:.2f}x  "
                f"(runs pybuild {[round(x, 2) for x in res[f'{op}_pybuild']]}, "
                f"skopeo {[round(x, 2) for x in res[f'{op}_skopeo']]})"
            )
            cs, cp = statistics.median(CPU[f"{op}_skopeo"]), statistics.median(CPU[f"{op}_pybuild"])
            print(f"{op} CPU (user+sys): pybuild {cp:.2f}s  skopeo {cs:.2f}s  ratio {cp / cs:.2f}x")
        a = statistics.median(api)
        print(
            f"pull via the API (in-process, no start-up): pybuild {a:.2f}s  "
            f"ratio {a / med['pull_skopeo']:.2f}x"
        )
        print(f"pybuild peak RSS: {max(rss) / 1024:.1f} MB (max over push and pull runs)")
    finally:
        for s in servers:
            s.stop()
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
