"""Every user error is one line with its cause, no traceback, and the
contract's exit code (1 failed step or registry, 2 usage or Dockerfile). One table of
bad invocations over every verb, each run as a real `pybuild` subprocess against a
real store in tmp, real registries (plain, and TLS + htpasswd), a store on overlayfs,
and a user namespace whose user-namespace limit is 0."""

from __future__ import annotations

import ctypes
import json
import os
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from tests.fixtures.registry import free_port
from tests.integration.cli.helpers import REPO, pyb

pytestmark = [pytest.mark.root, pytest.mark.registry]


@dataclass(frozen=True)
class Row:
    argv: tuple[str, ...]
    code: int
    line: str  # the exact last line of stderr (templated)
    one_line: bool = True  # stderr is that line alone
    stdin: str | None = None
    env: dict[str, str] = field(default_factory=dict)
    also: str = ""  # more text that must be on stderr (the failing step's output)


DOCKERFILES = {
    "ok": "FROM busybox\nRUN true\n",
    "syntax": "FROM busybox\nCPY a b\n",
    "emptyrun": "FROM busybox\nRUN\n",
    "badflag": "FROM busybox\nCOPY --bogus=1 a /a\n",
    "copy": "FROM busybox\nCOPY nothere /x\n",
    "run": "FROM busybox\nRUN echo out1; echo out2; exit 3\n",
    "from": "FROM {reg}/cli/absent:1\n",
    "nofrom": "RUN true\n",
    "badplat": "FROM --platform=linux/amd64,linux/arm64 busybox\n",
    # rejected by BuildKit's converter, so by the planner: plan and build alike
    "badport": "FROM busybox\nEXPOSE 80 abc/tcpx\n",
    "badproto": "FROM busybox\nARG P=80/tcpx\nEXPOSE $P\n",
}

R = Row
ROWS: dict[str, Row] = {
    # --- build: flags (exit 2)
    "build-unknown-flag": R(
        ("--bogus", "{ok}"),
        2,
        "pybuild build: unrecognized arguments: --bogus (see 'pybuild build --help')",
    ),
    "build-no-context": R(
        ("build",),
        2,
        "pybuild build: the following arguments are required: CONTEXT (see 'pybuild build --help')",
    ),
    "build-bad-progress": R(
        ("--progress", "fancy", "{ok}"),
        2,
        "pybuild build: argument --progress: invalid choice: 'fancy' (choose "
        "from 'auto', 'plain', 'tty', 'json', 'quiet') (see 'pybuild build --help')",
    ),
    "build-bad-network": R(
        ("--network", "bridge", "{ok}"),
        2,
        "pybuild build: argument --network: invalid choice: 'bridge' (choose "
        "from 'default', 'none', 'host') (see 'pybuild build --help')",
    ),
    "build-bad-cpus": R(
        ("--cpus", "abc", "{ok}"),
        2,
        "pybuild build: argument --cpus: invalid float value: 'abc' (see 'pybuild build --help')",
    ),
    "build-zero-cpus": R(("--cpus", "0", "{ok}"), 2, "pybuild: --cpus must be positive"),
    "build-bad-memory": R(
        ("--memory", "lots", "{ok}"), 2, "invalid size: 'lots' (use e.g. 512m or 1g)"
    ),
    "build-bad-secret": R(
        ("--secret", "id=x,src={tmp}/nope", "{ok}"), 2, "--secret x: {tmp}/nope is not a file"
    ),
    "build-bad-output": R(
        ("--output", "type=s3", "{ok}"),
        2,
        "--output type=s3: supported types are oci, docker, registry, local, tar",
    ),
    "build-output-no-dest": R(
        ("--output", "type=oci", "{ok}"), 2, "pybuild: --output type=oci needs dest=FILE"
    ),
    "build-bad-platform": R(
        ("--platform", "linux/amd64/v2/x", "{ok}"),
        2,
        "--platform: invalid platform 'linux/amd64/v2/x': want os/arch[/variant]",
    ),
    "build-push-no-tag": R(("--push", "{ok}"), 2, "pybuild: --push needs at least one -t NAME"),
    "build-bad-build-arg": R(("--build-arg", "=x", "{ok}"), 2, "pybuild: invalid --build-arg '=x'"),
    "build-bad-epoch": R(
        ("{ok}",),
        2,
        "invalid SOURCE_DATE_EPOCH 'yesterday': want seconds since 1970",
        env={"SOURCE_DATE_EPOCH": "yesterday"},
    ),
    "unknown-verb": R(
        ("biuld",),
        2,
        "pybuild: unknown command 'biuld' and no build context of "
        "that name (did you mean 'build'? see 'pybuild --help')",
    ),
    # --- build: missing context or Dockerfile (2)
    "build-missing-context": R(
        ("build", "{tmp}/nodir"), 2, "unable to prepare context: path '{tmp}/nodir' not found"
    ),
    "build-missing-dockerfile": R(
        ("{empty}",),
        2,
        "failed to read dockerfile: open {empty}/Dockerfile: no such file or directory",
    ),
    "build-missing-f": R(
        ("-f", "{tmp}/nope.Dockerfile", "{ok}"),
        2,
        "failed to read dockerfile: open {tmp}/nope.Dockerfile: no such file or directory",
    ),
    # --- Dockerfile syntax errors: file:line:col (2)
    "dockerfile-unknown-instruction": R(
        ("-q", "{syntax}"), 2, "Dockerfile:2:1: unknown instruction: CPY (did you mean COPY?)"
    ),
    "dockerfile-stdin": R(
        ("-q", "-f", "-", "{ok}"),
        2,
        "Dockerfile:2:1: unknown instruction: CPY (did you mean COPY?)",
        stdin="FROM busybox\nCPY a b\n",
    ),
    "dockerfile-empty-run": R(
        ("-q", "{emptyrun}"), 2, "Dockerfile:2:1: RUN: RUN requires at least one argument"
    ),
    "dockerfile-unknown-flag": R(
        ("-q", "{badflag}"), 2, "Dockerfile:2:1: COPY: unknown flag: --bogus"
    ),
    "dockerfile-no-from": R(
        ("-q", "{nofrom}"),
        2,
        "Dockerfile:1:1: RUN: no build stage in "
        "current context: the first instruction must be FROM (only ARG may "
        "come before it)",
    ),
    "dockerfile-bad-platform": R(
        ("-q", "{badplat}"),
        2,
        "Dockerfile:1:1: FROM: invalid platform 'linux/amd64,linux/arm64': want os/arch[/variant]",
    ),
    "dockerfile-bad-target": R(
        ("-q", "--target", "nope", "{ok}"), 2, 'Dockerfile: target stage "nope" could not be found'
    ),
    "plan-syntax": R(
        ("plan", "{syntax}"),
        2,
        "{syntax}/Dockerfile:2:1: unknown instruction: CPY (did you mean COPY?)",
    ),
    "dockerfile-bad-port": R(
        ("-q", "{badport}"), 2, "Dockerfile:2:1: EXPOSE: Invalid containerPort: abc"
    ),
    "dockerfile-bad-proto": R(
        ("-q", "{badproto}"), 2, "Dockerfile:3:1: EXPOSE: Invalid proto: tcpx"
    ),
    "plan-bad-port": R(
        ("plan", "{badport}"), 2, "{badport}/Dockerfile:2:1: EXPOSE: Invalid containerPort: abc"
    ),
    "plan-missing-f": R(
        ("plan", "-f", "{tmp}/nope", "{ok}"), 2, "pybuild plan: Dockerfile '{tmp}/nope' not found"
    ),
    # --- failed steps (1)
    "build-copy-missing-source": R(
        ("-q", "{copy}"),
        1,
        "Dockerfile:2:1: COPY failed: file not "
        "found in build context or excluded by .dockerignore: stat "
        "nothere: file does not exist",
    ),
    "build-run-fails": R(
        ("-q", "{run}"),
        1,
        "Dockerfile:2: step 2/2 `RUN echo out1; echo out2; "
        'exit 3`: process "/bin/sh -c echo out1; echo out2; exit 3" did not '
        "complete successfully: exit code: 3",
        one_line=False,
        also="out2",
    ),
    "build-from-missing-image": R(
        ("-q", "{from}"),
        1,
        "Dockerfile:1: step 1/1 `FROM "
        "{reg}/cli/absent:1`: {reg}/cli/absent:1: pull "
        "{reg}/cli/absent:1: 404 MANIFEST_UNKNOWN (manifest unknown)",
    ),
    # --- images and maintenance verbs
    "images-bad-flag": R(
        ("images", "--bogus"),
        2,
        "pybuild images: unrecognized arguments: --bogus (see 'pybuild images --help')",
    ),
    "inspect-missing": R(
        ("inspect", "nothere:1"), 1, "inspect nothere:1: image not found in the store"
    ),
    "history-missing": R(
        ("history", "nothere"), 1, "history nothere: image not found in the store"
    ),
    "tag-missing": R(("tag", "nothere", "x"), 1, "image not found: nothere"),
    "tag-bad-name": R(
        ("tag", "busybox", "Bad:Name"),
        2,
        "invalid reference 'Bad:Name': repository name must be lowercase",
    ),
    "tag-unicode-tag": R(
        ("tag", "busybox", "app:é"),
        2,
        "invalid reference 'app:é': invalid tag 'é'",
    ),
    "rmi-missing": R(("rmi", "nothere"), 1, "pybuild rmi: image not found: nothere"),
    "save-no-output": R(
        ("save", "busybox"),
        2,
        "pybuild save: the following arguments are "
        "required: -o/--output (see 'pybuild save --help')",
    ),
    "save-missing": R(("save", "nothere", "-o", "{tmp}/x.tar"), 1, "image not found: nothere"),
    "load-missing-file": R(
        ("load", "-i", "{tmp}/missing.tar"),
        1,
        "invalid archive {tmp}/missing.tar: No such file or directory",
    ),
    "import-missing-file": R(
        ("import", "{tmp}/missing.tar", "x"),
        1,
        "pybuild: {tmp}/missing.tar: No such file or directory",
    ),
    "run-missing-image": R(("run", "nothere"), 1, "image not found: nothere"),
    "run-bad-cpus": R(("run", "--cpus", "-1", "busybox"), 2, "pybuild: --cpus must be positive"),
    "prune-bad-flag": R(
        ("prune", "--bogus"),
        2,
        "pybuild prune: unrecognized arguments: --bogus (see 'pybuild prune --help')",
    ),
    "fsck-extra-arg": R(
        ("fsck", "extra"),
        2,
        "pybuild fsck: unrecognized arguments: extra (see 'pybuild fsck --help')",
    ),
    "completion-bad-shell": R(
        ("completion", "fish"),
        2,
        "pybuild completion: argument shell: "
        "invalid choice: 'fish' (choose from 'bash', 'zsh') (see 'pybuild "
        "completion --help')",
    ),
    # --- registry verbs, against real registries
    "pull-bad-reference": R(
        ("pull", "UPPER/Case"),
        2,
        "invalid reference 'UPPER/Case': repository name must be lowercase",
    ),
    "pull-bad-platform": R(
        ("pull", "--platform", "linux/", "busybox"),
        2,
        "invalid platform 'linux/': invalid platform 'linux/': want os/arch[/variant]",
    ),
    "pull-missing": R(
        ("pull", "-q", "{reg}/cli/absent:1"),
        1,
        "pull {reg}/cli/absent:1: 404 MANIFEST_UNKNOWN (manifest unknown)",
    ),
    "pull-refused": R(
        ("pull", "-q", "127.0.0.1:{closed}/x:1"),
        1,
        "pull 127.0.0.1:{closed}/x:1: cannot connect to 127.0.0.1:{closed}: connection refused",
    ),
    "push-missing-image": R(("push", "nothere"), 1, "image not found: nothere"),
    "push-unauthorized": R(
        ("push", "-q", "busybox", "{tls}/cli/bb:1"),
        1,
        "push {tls}/cli/bb:1: 401 UNAUTHORIZED (authentication required)",
    ),
    "build-push-unauthorized": R(
        ("-q", "-t", "{tls}/cli/ok:1", "--push", "{ok}"),
        1,
        "push {tls}/cli/ok:1: 401 UNAUTHORIZED (authentication required)",
    ),
    "login-wrong-password": R(
        ("login", "-u", "tester", "--password-stdin", "{tls}"),
        1,
        "login {tls}: 401 UNAUTHORIZED (authentication required)",
        stdin="wrong\n",
    ),
    "login-exclusive": R(
        ("login", "-p", "x", "--password-stdin", "{tls}"),
        1,
        "login: --password and --password-stdin are exclusive",
    ),
    "logout-bad-flag": R(
        ("logout", "--bogus"),
        2,
        "pybuild logout: unrecognized arguments: --bogus (see 'pybuild logout --help')",
    ),
}


@pytest.fixture(scope="module")
def world(tmp_path_factory, busybox_image, registry, tls_registry) -> dict[str, str]:
    tmp = tmp_path_factory.mktemp("cli-errors")
    root = tmp / "store"
    busybox_image.load(root)
    names = {
        "tmp": str(tmp),
        "root": str(root),
        "reg": registry.host,
        "tls": tls_registry.host,
        "closed": str(free_port()),
    }
    for name, text in DOCKERFILES.items():
        ctx = tmp / f"ctx-{name}"
        ctx.mkdir()
        (ctx / "Dockerfile").write_text(text.format(**names))
        names[name] = str(ctx)
    (tmp / "empty").mkdir()
    names["empty"] = str(tmp / "empty")
    names["certs"] = str(tls_registry.certs_d)
    (tmp / "docker-config").mkdir()
    names["docker_config"] = str(tmp / "docker-config")
    return names


def test_the_table_is_big_and_covers_every_verb() -> None:
    from builder.cli import VERBS

    assert len(ROWS) >= 30
    covered = {r.argv[0] if r.argv[0] in VERBS else "build" for r in ROWS.values()}
    assert covered == set(VERBS)


@pytest.mark.parametrize("name", list(ROWS))
def test_bad_invocation(name: str, world: dict[str, str]) -> None:
    row = ROWS[name]
    env = {"PYBUILD_CERTS_D": world["certs"], "DOCKER_CONFIG": world["docker_config"], **row.env}
    out = pyb(
        Path(world["root"]),
        *(a.format(**world) for a in row.argv),
        stdin=row.stdin,
        env=env,
        cwd=world["tmp"],
    )
    lines = out.stderr.strip().splitlines()
    assert out.returncode == row.code, (out.returncode, out.stderr)
    assert "Traceback" not in out.stderr
    assert lines and lines[-1] == row.line.format(**world), out.stderr
    if row.one_line:
        assert len(lines) == 1, out.stderr
    if row.also:
        assert row.also in out.stderr


def test_store_on_overlayfs_is_one_line(world: dict[str, str], tmp_path: Path) -> None:
    """Overlay unsupported, for real: a store whose filesystem is itself an overlayfs
    cannot hold overlay upper dirs (as when pybuild runs inside a container)."""
    dirs = {d: tmp_path / d for d in ("lower", "upper", "work", "merged")}
    for d in dirs.values():
        d.mkdir()
    subprocess.run(
        [
            "mount",
            "-t",
            "overlay",
            "overlay",
            "-o",
            f"lowerdir={dirs['lower']},upperdir={dirs['upper']},workdir={dirs['work']}",
            str(dirs["merged"]),
        ],
        check=True,
    )
    try:
        root = dirs["merged"] / "store"
        bb = pyb(Path(world["root"]), "save", "busybox", "-o", tmp_path / "bb.tar")
        assert bb.returncode == 0, bb.stderr
        assert pyb(root, "load", "-i", tmp_path / "bb.tar").returncode == 0
        for args in (("-q", world["ok"]), ("run", "busybox", "true")):
            out = pyb(root, *args)
            assert out.returncode == 1 and "Traceback" not in out.stderr
            line = out.stderr.strip()
            assert "\n" not in line, line
            assert line.startswith(f"mount {root}/snapshots/") and line.endswith(
                "/merged: overlayfs is not supported on the store's filesystem (overlay): set "
                "PYBUILD_ROOT to a directory on ext4, xfs, btrfs or tmpfs"
            ), line
    finally:
        subprocess.run(["umount", "-l", str(dirs["merged"])], check=True)


NO_USERNS = r"""
import json, os, subprocess, sys
pyb = [sys.executable, "-m", "builder.cli"]
res = {"uid": os.geteuid(),
       # the condition is real: the kernel now refuses this user a user namespace
       "unshare": subprocess.run(["unshare", "--user", "true"], capture_output=True).returncode}
for name, args in (("import", ["import", "-c", 'CMD ["sh"]', BUSYBOX, "busybox:latest"]),
                   ("build", ["-q", CONTEXT]), ("run", ["run", "busybox", "true"]),
                   ("images", ["images", "-q"])):
    p = subprocess.run([*pyb, *args], capture_output=True, text=True)
    res[name] = [p.returncode, p.stderr]
print(json.dumps(res))
"""


def test_not_root_and_no_user_namespaces(
    world: dict[str, str], busybox_tar: Path, tmp_path: Path
) -> None:
    """Not root, and user namespaces disabled, through the real CLI: a child enters a
    user namespace where our uid shows as 1000 (so pybuild is not root and goes
    rootless, yet still owns its files), sets that namespace's own
    `user.max_user_namespaces` to 0 (a per-namespace sysctl: the host is untouched),
    and runs `pybuild import`, `build` and `run` there: each is one line, exit 1.
    (`images` needs no namespace and still works.)"""
    libc = ctypes.CDLL(None, use_errno=True)
    r1, w1 = os.pipe()
    r2, w2 = os.pipe()
    out_r, out_w = os.pipe()
    code = NO_USERNS.replace("BUSYBOX", repr(str(busybox_tar))).replace(
        "CONTEXT", repr(world["ok"])
    )
    env = {
        "PATH": "/usr/sbin:/usr/bin:/sbin:/bin",
        "PYTHONPATH": str(REPO),
        "PYBUILD_ROOT": str(tmp_path / "store"),
        "HOME": str(tmp_path),
    }
    pid = os.fork()
    if pid == 0:  # pragma: no cover - child
        try:
            os.dup2(out_w, 1)
            os.dup2(out_w, 2)
            if libc.unshare(0x10000000) != 0:  # CLONE_NEWUSER
                os._exit(90)
            os.write(w1, b"u")
            os.read(r2, 1)
            # still privileged in the new namespace until exec: limit it there only
            Path("/proc/sys/user/max_user_namespaces").write_text("0")
            os.execve(sys.executable, [sys.executable, "-c", code], env)
        finally:
            os._exit(91)
    # only the child writes w1 and reads r2: a child that dies early is EOF, not a hang
    for fd in (out_w, w1, r2):
        os.close(fd)
    assert os.read(r1, 1) == b"u", "the child could not unshare a user namespace"
    for name in ("uid_map", "gid_map"):
        Path(f"/proc/{pid}/{name}").write_text("1000 0 1\n")
    os.write(w2, b"g")
    output = b""
    while chunk := os.read(out_r, 4096):
        output += chunk
    _, status = os.waitpid(pid, 0)
    for fd in (r1, w2, out_r):
        os.close(fd)
    assert os.waitstatus_to_exitcode(status) == 0, output
    res = json.loads(output)
    assert res["uid"] == 1000 and res["unshare"] != 0
    line = (
        "user namespaces are disabled: sysctl -w user.max_user_namespaces=15000 (or run as root)\n"
    )
    assert res["import"] == res["build"] == res["run"] == [1, line], res
    assert res["images"] == [0, ""], res
    assert Path("/proc/sys/user/max_user_namespaces").read_text().strip() != "0"
