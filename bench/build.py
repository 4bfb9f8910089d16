"""Build benchmark: pybuild vs BuildKit (a private dockerd from Debian's
docker.io) and `buildah bud --layers --runtime /usr/sbin/runc`, on a small app over
busybox: 200 generated source files and a 50 MB file made then deleted.

Scenarios, each the median of --reps runs:
- cold: empty build cache (pybuild: a fresh store with only busybox, unpacked as
  `docker load` and `buildah pull` unpack it; BuildKit: builder cache pruned; buildah: a
  fresh storage root with only busybox);
- noop: the same build again;
- edit: one source file changed, then rebuilt.

Prints median seconds per tool and scenario, the ratios pybuild/BuildKit (target
<= 1.0) and pybuild/buildah (target <= 0.5), and pybuild's peak RSS (target < 200 MB);
then median CPU seconds (user+sys of the whole process tree; for BuildKit the docker
client plus dockerd's session), steadier than wall time on a loaded host. The tools
take turns inside each repetition, and the load average is printed.
Run as root: `python3 bench/build.py [--reps 3] [--no-buildkit] [--no-buildah]`.
"""

from __future__ import annotations

import argparse
import os
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from tests.fixtures.mounts import unmount_under  # noqa: E402

DOCKERFILE = """\
FROM busybox
RUN head -c 52428800 /dev/urandom > /big.bin
RUN rm /big.bin
WORKDIR /app
COPY app/ /app/
RUN find /app -type f | wc -l > /app/count
CMD ["sh"]
"""
EPOCH = "1600000000"


def make_context(d: Path) -> Path:
    src = d / "app" / "src"
    src.mkdir(parents=True)
    for i in range(200):
        body = "".join(f"def f{i}_{j}(x):\n    return x * {j} + {i}\n\n" for j in range(40))
        (src / f"mod_{i:03d}.py").write_text(body)
    (d / "Dockerfile").write_text(DOCKERFILE)
    return d


def edit(ctx: Path, n: int) -> None:
    p = ctx / "app" / "src" / "mod_017.py"
    p.write_text(p.read_text() + f"# edit {n}\n")


def run_timed(
    cmd: list[str], env: dict[str, str], cwd: Path | None = None
) -> tuple[float, int, float]:
    """(seconds, peak RSS in bytes of the process tree's largest child, CPU seconds
    user+sys of the whole waited-for tree) of one command."""
    t0 = time.monotonic()
    p = subprocess.Popen(cmd, env=env, cwd=cwd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    _, status, ru = os.wait4(p.pid, 0)
    elapsed = time.monotonic() - t0
    err = p.stderr.read().decode(errors="replace") if p.stderr else ""
    if os.waitstatus_to_exitcode(status) != 0:
        raise RuntimeError(f"{' '.join(cmd)} failed:\n{err[-2000:]}")
    return elapsed, ru.ru_maxrss * 1024, ru.ru_utime + ru.ru_stime


VENV = Path("/tmp/pybuild-bench-venv")


def pybuild_argv(use_module: bool = False) -> list[str]:
    """How pybuild is run: as a user runs it, the `pybuild` script of a venv with this
    checkout pip-installed (not editable), so the interpreter starts without this
    host's site-packages .pth hooks (an editable-install finder, a certificate hook:
    ~20 ms that no user's install has). Created on first use, refreshed every run.
    With `use_module`: `python -m builder.cli` from the checkout, as before."""
    if use_module:
        return [sys.executable, "-m", "builder.cli"]
    if not (VENV / "bin" / "pip").exists():
        subprocess.run([sys.executable, "-m", "venv", str(VENV)], check=True)
        subprocess.run([str(VENV / "bin" / "pip"), "install", "-q", str(REPO)], check=True)
    else:
        subprocess.run(
            [
                str(VENV / "bin" / "pip"),
                "install",
                "-q",
                "--no-deps",
                "--force-reinstall",
                str(REPO),
            ],
            check=True,
        )
    return [str(VENV / "bin" / "pybuild")]


def session_cpu(sid: int) -> float:
    """CPU seconds (user+sys, with reaped children) of every process in session `sid`:
    dockerd, its containerd and the runc/RUN processes BuildKit reaps."""
    tick = os.sysconf("SC_CLK_TCK")
    total = 0
    for pid in os.listdir("/proc"):
        if not pid.isdigit():
            continue
        try:
            with open(f"/proc/{pid}/stat") as f:
                fields = f.read().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[3]) == sid:  # field 6 (session) after the ")"
            total += sum(int(x) for x in fields[11:15])  # utime stime cutime cstime
    return total / tick


class Pybuild:
    name = "pybuild"

    def __init__(self, work: Path, rootfs_tar: Path, argv: list[str] | None = None) -> None:
        self.work, self.tar = work, rootfs_tar
        self.argv = argv or [sys.executable, "-m", "builder.cli"]
        self.roots: list[Path] = []  # one per reset, deleted at close (see settle())
        self.root = work / "pb-store"
        self.rss = 0
        self.cpu = 0.0

    def next_root(self) -> Path:
        """A fresh store root; the old ones stay until close()."""
        self.root = self.work / f"pb-store-{len(self.roots)}"
        self.roots.append(self.root)
        return self.root

    def reset(self) -> None:
        from store.layout import open_store
        from tests.fixtures.build import BusyboxImage

        self.next_root()
        os.environ["SOURCE_DATE_EPOCH"] = EPOCH
        try:
            BusyboxImage(self.tar).load(self.root)
        finally:
            del os.environ["SOURCE_DATE_EPOCH"]
        # unpack the base now, as `docker load` and `buildah pull` do before their
        # timed builds (the engine keeps this one hold, as it does for what it unpacks)
        from store.image import resolve_image

        store = open_store(self.root)
        img = resolve_image(store, "busybox:latest")
        store.snapshots.ensure_layers(
            [sl.descriptor for sl in img.layers()], [sl.diff_id for sl in img.layers()]
        )
        store.close()

    def build(self, ctx: Path) -> float:
        env = {**os.environ, "PYBUILD_ROOT": str(self.root)}
        # --network none, as BuildKit and buildah are run (no bridge on these machines)
        secs, rss, self.cpu = run_timed(
            [*self.argv, "build", "-q", "--network", "none", "-t", "bench:1", str(ctx)],
            env,
            cwd=REPO,
        )
        self.rss = max(self.rss, rss)
        return secs

    def close(self) -> None:
        for root in {*self.roots, self.root}:
            unmount_under(root)
            shutil.rmtree(root, ignore_errors=True)


class BuildKit:
    """A private dockerd; each reset starts a fresh one (fresh data root, base loaded,
    one warm-up build) instead of pruning, so no tool deletes files mid-run."""

    name = "buildkit"

    def __init__(self, work: Path, docker_tar: Path, base: str = "busybox:latest") -> None:
        self.tar, self.base = docker_tar, base
        self.dirs: list[Path] = []
        self._start()

    def _start(self) -> None:
        self.dir = Path(tempfile.mkdtemp(prefix="pbbench-dk-", dir="/tmp"))
        self.dirs.append(self.dir)
        self.sock = self.dir / "docker.sock"
        self.log = open(self.dir / "log", "wb")
        self.proc = subprocess.Popen(
            [
                "/usr/sbin/dockerd",
                "--data-root",
                str(self.dir / "data"),
                "--exec-root",
                str(self.dir / "exec"),
                "--pidfile",
                str(self.dir / "pid"),
                "--host",
                f"unix://{self.sock}",
                "--bridge=none",
                "--iptables=false",
                "--ip-masq=false",
                "--ip-forward=false",
            ],
            stdout=self.log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        self.env = {
            "DOCKER_HOST": f"unix://{self.sock}",
            "DOCKER_BUILDKIT": "1",
            "PATH": "/usr/bin:/bin:/usr/sbin:/sbin",
            "HOME": str(self.dir),
        }
        deadline = time.monotonic() + 60
        while self._docker("version", check=False) != 0:
            if time.monotonic() > deadline or self.proc.poll() is not None:
                raise RuntimeError("dockerd did not start")
            time.sleep(0.3)
        self._docker("load", "-i", str(self.tar))
        warm = self.dir / "warm"
        warm.mkdir()
        (warm / "Dockerfile").write_text(f"FROM {self.base}\nRUN true\n")
        self._docker("build", "--network=none", "-q", str(warm))  # BuildKit's first-use setup

    def _stop(self) -> None:
        self.proc.send_signal(signal.SIGTERM)
        try:
            self.proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(self.proc.pid, signal.SIGKILL)
        self.log.close()
        unmount_under(self.dir)

    def _docker(self, *args: str, check: bool = True) -> int:
        p = subprocess.run(["/usr/bin/docker", *args], env=self.env, capture_output=True)
        if check and p.returncode:
            raise RuntimeError(p.stderr.decode()[-2000:])
        return p.returncode

    def reset(self) -> None:
        self._stop()
        self._start()

    def build(self, ctx: Path) -> float:
        before = session_cpu(self.proc.pid)
        secs, _, client = run_timed(
            ["/usr/bin/docker", "build", "--network=none", "-q", "-t", "bench:1", str(ctx)],
            self.env,
        )
        self.cpu = client + session_cpu(self.proc.pid) - before
        return secs

    def close(self) -> None:
        self._stop()
        for d in self.dirs:
            unmount_under(d)
            shutil.rmtree(d, ignore_errors=True)


class Buildah:
    """buildah with its own storage root; each reset takes a fresh root (base pulled)
    and the old ones are deleted at close."""

    name = "buildah"
    base = "busybox:latest"

    def __init__(self, work: Path, docker_tar: Path) -> None:
        self.work, self.tar = work, docker_tar
        self.dirs: list[Path] = []
        self.dir = work / "buildah"

    def _b(self) -> list[str]:
        return [
            "buildah",
            "--root",
            str(self.dir / "root"),
            "--runroot",
            str(self.dir / "run"),
            "--storage-driver",
            "overlay",
        ]

    def reset(self) -> None:
        self.dir = self.work / f"buildah-{len(self.dirs)}"
        self.dirs.append(self.dir)
        out = subprocess.run(
            [*self._b(), "pull", "-q", f"docker-archive:{self.tar}"],
            capture_output=True,
            text=True,
            check=True,
        ).stdout.split()[-1]
        subprocess.run([*self._b(), "tag", out, self.base], check=True, capture_output=True)

    def build(self, ctx: Path) -> float:
        secs, _, self.cpu = run_timed(
            [
                *self._b(),
                "bud",
                "--layers",
                "--runtime",
                "/usr/sbin/runc",
                "--network",
                "none",
                "-q",
                "-t",
                "bench:1",
                str(ctx),
            ],
            dict(os.environ),
            cwd=ctx,
        )
        return secs

    def close(self) -> None:
        for d in self.dirs:
            self.dir = d
            subprocess.run([*self._b(), "rmi", "-af"], capture_output=True)
            unmount_under(d)
            shutil.rmtree(d, ignore_errors=True)


def settle(seconds: float) -> None:
    """Let inodes freed before the run age out. On ext4 without a journal (these
    machines' /) a new inode skips every inode freed in the last 60 s (360 s while its
    inode-table block is dirty), one buffer lookup each: creating files right after a
    mass deletion is quadratic, for every tool alike (9.9 s were measured instead
    of 0.6 s for 20,000 files). So the tools delete nothing until the end, and the run
    starts after a sync and this wait."""
    if seconds > 0:
        os.sync()
        print(f"settling {seconds:.0f} s (inodes freed before the run age out)", flush=True)
        time.sleep(seconds)


def measure(
    tools: list,
    ctx: Path,
    reps: int,
    settle_s: float = 0,
    edit_fn: Callable[[Path, int], None] = edit,
) -> tuple[dict, dict]:
    """Medians of wall and CPU seconds (user+sys of the process tree; BuildKit: client
    plus dockerd's session) per tool and scenario. The tools take turns within each
    repetition, so load changes on the host hit all of them alike; the run starts after
    settle() and deletes nothing until the end. `edit_fn(ctx, n)` changes one source."""
    settle(settle_s)
    wall = {t.name: {"cold": [], "noop": [], "edit": []} for t in tools}
    cpu = {t.name: {"cold": [], "noop": [], "edit": []} for t in tools}
    for i in range(reps):
        for t in tools:
            t.reset()
            for sc in ("cold", "noop", "edit"):
                if sc == "edit":
                    edit_fn(ctx, i * len(tools) + tools.index(t))
                wall[t.name][sc].append(t.build(ctx))
                cpu[t.name][sc].append(t.cpu)
                print(
                    f"  rep {i} {t.name:<9} {sc:<5} {wall[t.name][sc][-1]:8.2f}s "
                    f"cpu {t.cpu:7.2f}s load {os.getloadavg()[0]:.2f}",
                    flush=True,
                )

    def med(d: dict) -> dict:
        return {n: {k: statistics.median(v) for k, v in x.items()} for n, x in d.items()}

    return med(wall), med(cpu)


def add_common_args(ap: argparse.ArgumentParser) -> None:
    """The flags both build benchmarks take."""
    ap.add_argument("--reps", type=int, default=3)
    ap.add_argument("--no-buildkit", action="store_true")
    ap.add_argument("--no-buildah", action="store_true")
    ap.add_argument(
        "--python-m",
        action="store_true",
        help="run `python -m builder.cli` from the checkout, not a venv's pybuild",
    )
    ap.add_argument(
        "--settle",
        type=float,
        default=65,
        help="seconds to wait before the timed runs (see settle())",
    )


def print_results(results: dict, cpus: dict) -> None:
    """The medians table (wall and CPU) and the ratios against the anchors' targets."""
    print(f"{'scenario':<8} " + " ".join(f"{n:>10}" for n in results))
    for sc in ("cold", "noop", "edit"):
        print(f"{sc:<8} " + " ".join(f"{results[n][sc]:>10.3f}" for n in results))
    print("median CPU seconds, user+sys (BuildKit: docker client + dockerd's session):")
    for sc in ("cold", "noop", "edit"):
        print(f"{sc:<8} " + " ".join(f"{cpus[n][sc]:>10.3f}" for n in cpus))
    for other, target in (("buildkit", 1.0), ("buildah", 0.5)):
        if other in results:
            ratios = "  ".join(
                f"{sc} {results['pybuild'][sc] / results[other][sc]:.2f}x"
                for sc in ("cold", "noop", "edit")
            )
            print(f"pybuild/{other}: {ratios}  (target <= {target}x)")
            ratios = "  ".join(
                f"{sc} {cpus['pybuild'][sc] / cpus[other][sc]:.2f}x"
                for sc in ("cold", "noop", "edit")
            )
            print(f"  CPU pybuild/{other}: {ratios}")


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    add_common_args(ap)
    a = ap.parse_args()
    from store import archive
    from store.layout import open_store
    from tests.fixtures.base_image import build_busybox_rootfs_tar

    load0 = os.getloadavg()
    work = Path(tempfile.mkdtemp(prefix="pybuild-bench-"))
    tools = []
    try:
        rootfs = build_busybox_rootfs_tar(work / "rootfs.tar")
        pb = Pybuild(work, rootfs, pybuild_argv(a.python_m))
        pb.reset()
        docker_tar = work / "busybox.docker.tar"
        archive.save(open_store(pb.root), ["busybox:latest"], docker_tar, fmt="docker")
        ctx = make_context(work / "ctx")
        tools.append(pb)
        if not a.no_buildkit:
            tools.append(BuildKit(work, docker_tar))
        if not a.no_buildah:
            tools.append(Buildah(work, docker_tar))
        results, cpus = measure(tools, ctx, a.reps, a.settle)
    finally:
        for t in tools:
            t.close()
        shutil.rmtree(work, ignore_errors=True)
    print(f"load average before/after: {load0} / {os.getloadavg()}")
    print(f"median seconds over {a.reps} runs (200 files + 50 MB made then deleted):")
    print_results(results, cpus)
    print(f"pybuild peak RSS: {pb.rss / 1e6:.0f} MB (target < 200 MB)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
