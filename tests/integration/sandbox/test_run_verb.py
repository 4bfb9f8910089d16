"""`pybuild run` end to end: a busybox image imported into a fresh store, run through
the real entry point with the image config and flags applied."""

from __future__ import annotations

import os
import pty
import select
import subprocess
import sys
import time
from pathlib import Path

import pytest

from builder.commands.run import container_argv, merged_env
from builder.units import parse_size
from tests.fixtures.common import REPO


def pyb(root: Path, *args: str | Path, stdin: bytes | None = None) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHONPATH": str(REPO), "PYBUILD_ROOT": str(root), "FROM_HOST": "hv"}
    return subprocess.run(
        [sys.executable, "-m", "builder.cli", *map(str, args)],
        cwd=REPO,
        env=env,
        capture_output=True,
        input=stdin,
        timeout=60,
    )


@pytest.fixture(scope="module")
def store_with_image(busybox_tar: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("run-store") / "store"
    out = pyb(
        root,
        "import",
        busybox_tar,
        "bb",
        "-c",
        'CMD ["sh", "-c", "echo from-cmd; id -un"]',
        "-c",
        "ENV GREETING=hi",
        "-c",
        "WORKDIR /srv/app",
        "-c",
        "USER app",
    )
    assert out.returncode == 0, out.stderr.decode()
    ep = pyb(
        root,
        "import",
        busybox_tar,
        "bb-ep",
        "-c",
        'ENTRYPOINT ["echo", "ep:"]',
        "-c",
        'CMD ["default-arg"]',
    )
    assert ep.returncode == 0, ep.stderr.decode()
    return root


def test_image_config_applies(store_with_image: Path) -> None:
    out = pyb(store_with_image, "run", "--network", "none", "bb")
    assert out.returncode == 0, out.stderr.decode()
    assert out.stdout.decode().split() == ["from-cmd", "app"]
    out = pyb(
        store_with_image,
        "run",
        "--network",
        "none",
        "bb",
        "sh",
        "-c",
        'echo "$GREETING $(pwd) $HOME"; [ "$HOSTNAME" = "$(hostname)" ] || exit 9; exit 5',
    )
    assert out.returncode == 5
    assert out.stdout.decode().strip() == "hi /srv/app /home/app"


def test_flags_override(store_with_image: Path) -> None:
    out = pyb(
        store_with_image,
        "run",
        "--network",
        "none",
        "-e",
        "GREETING=yo",
        "-e",
        "FROM_HOST",
        "-w",
        "/tmp",
        "--user",
        "root",
        "bb",
        "sh",
        "-c",
        'echo "$GREETING $FROM_HOST $(pwd) $(id -u)"; grep CapEff /proc/self/status',
    )
    lines = out.stdout.decode().splitlines()
    assert lines[0] == "yo hv /tmp 0"
    assert lines[1].endswith("a80425fb")
    out = pyb(
        store_with_image,
        "run",
        "--network",
        "none",
        "--user",
        "root",
        "--cap-drop",
        "ALL",
        "--cap-add",
        "CHOWN",
        "bb",
        "grep",
        "CapEff",
        "/proc/self/status",
    )
    assert out.stdout.decode().split()[-1] == "0000000000000001"
    out = pyb(
        store_with_image,
        "run",
        "--network",
        "none",
        "--privileged",
        "bb",
        "grep",
        "Seccomp:",
        "/proc/self/status",
    )
    assert out.stdout.decode().split()[-1] == "0"


def test_entrypoint_and_cmd(store_with_image: Path) -> None:
    assert pyb(store_with_image, "run", "--network", "none", "bb-ep").stdout == b"ep: default-arg\n"
    assert (
        pyb(store_with_image, "run", "--network", "none", "bb-ep", "x", "y").stdout == b"ep: x y\n"
    )
    out = pyb(store_with_image, "run", "--network", "none", "--entrypoint", "echo", "bb-ep", "z")
    assert out.stdout == b"z\n"


def test_limits_and_network(store_with_image: Path) -> None:
    out = pyb(
        store_with_image,
        "run",
        "--network",
        "none",
        "--memory",
        "64m",
        "--pids-limit",
        "50",
        "--cpus",
        "0.5",
        "bb",
        "awk",
        'BEGIN{s="xxxxxxxxxxxxxxxx"; while (length(s) < 200000000) s = s s}',
    )
    assert out.returncode == 137
    out = pyb(store_with_image, "run", "--network", "none", "bb", "ls", "/sys/class/net")
    assert out.stdout.decode().split() == ["lo"]
    out = pyb(store_with_image, "run", "bb", "ls", "/sys/class/net")  # default: slirp4netns
    assert out.returncode == 0 and out.stdout.decode().split() == ["lo", "tap0"]


def test_writable_layer_is_discarded(store_with_image: Path) -> None:
    assert (
        pyb(
            store_with_image, "run", "--network", "none", "--rm", "bb", "touch", "/tmp/left-behind"
        ).returncode
        == 0
    )
    out = pyb(store_with_image, "run", "--network", "none", "bb", "ls", "/tmp")
    assert "left-behind" not in out.stdout.decode()
    active = [p for p in (store_with_image / "snapshots").iterdir() if p.name.startswith("a")]
    assert active == []
    mounts = Path("/proc/self/mountinfo").read_text()
    assert str(store_with_image) not in mounts


def test_interactive_stdin_and_tty(store_with_image: Path) -> None:
    out = pyb(
        store_with_image,
        "run",
        "-i",
        "--network",
        "none",
        "bb",
        "sh",
        "-c",
        "cat; echo done",
        stdin=b"piped-in\n",
    )
    assert out.stdout == b"piped-in\ndone\n"
    # -it under a real pty: the command sees a terminal and our keystrokes.
    env = {**os.environ, "PYTHONPATH": str(REPO), "PYBUILD_ROOT": str(store_with_image)}
    pid, fd = pty.fork()
    if pid == 0:
        os.execvpe(
            sys.executable,
            [
                sys.executable,
                "-m",
                "builder.cli",
                "run",
                "-it",
                "--network",
                "none",
                "bb",
                "sh",
                "-c",
                "[ -t 0 ] && echo is-a-tty; read line; echo got:$line",
            ],
            env,
        )
    buf = b""
    os.write(fd, b"typed\n")
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline and b"got:" not in buf:
        r, _, _ = select.select([fd], [], [], 0.5)
        if r:
            try:
                buf += os.read(fd, 4096)
            except OSError:
                break
    for _ in range(100):
        done, status = os.waitpid(pid, os.WNOHANG)
        if done:
            break
        time.sleep(0.1)
    else:
        os.kill(pid, 9)
        os.waitpid(pid, 0)
    os.close(fd)
    assert b"is-a-tty" in buf and b"got:typed" in buf, buf
    assert os.waitstatus_to_exitcode(status) == 0


def test_the_command_is_pid_1_and_init_puts_tini_before_it(store_with_image: Path) -> None:
    """As `docker run`: `echo $$` prints 1 and PID 1's command line is the command's
    (nothing of pybuild's, whose arguments hold every -e value); `--init` runs
    docker's init (tini) as PID 1, which reaps and passes the exit code through."""
    show = "echo $$; tr '\\0' ' ' < /proc/1/cmdline; echo"
    out = pyb(store_with_image, "run", "--network", "none", "-e", "K=v", "bb", "sh", "-c", show)
    assert out.returncode == 0, out.stderr.decode()
    assert out.stdout.decode().splitlines() == ["1", f"sh -c {show} "]  # NULs read as blanks
    out = pyb(
        store_with_image, "run", "--init", "--network", "none", "bb", "sh", "-c", show + "; exit 5"
    )
    assert out.returncode == 5, out.stderr.decode()
    me, pid1 = out.stdout.decode().splitlines()
    assert me != "1" and pid1.startswith("/sbin/docker-init -- sh -c ")


def test_stdio_are_pipes_never_the_host_files_behind_them(
    store_with_image: Path, tmp_path: Path
) -> None:
    """pybuild's stdin and stdout may be host files: the command gets pipes, as in
    Docker, so reopening /proc/self/fd/N cannot read or write the file itself."""
    src, dst = tmp_path / "in.txt", tmp_path / "out.txt"
    src.write_text("host input\n")
    script = (
        "for n in 0 1 2; do readlink /proc/self/fd/$n; done; "
        "echo overwritten > /proc/self/fd/0 2>/dev/null; cat /proc/self/fd/1 2>/dev/null; cat"
    )
    env = {**os.environ, "PYTHONPATH": str(REPO), "PYBUILD_ROOT": str(store_with_image)}
    with open(src, "rb") as fin, open(dst, "wb") as fout:
        p = subprocess.run(
            [sys.executable, "-m", "builder.cli", "run", "-i", "--network", "none", "bb"]
            + ["sh", "-c", script],
            stdin=fin,
            stdout=fout,
            stderr=subprocess.PIPE,
            env=env,
            cwd=REPO,
            timeout=60,
        )
    assert p.returncode == 0, p.stderr.decode()
    links = dst.read_text().splitlines()
    assert [link.split(":")[0] for link in links[:3]] == ["pipe", "pipe", "pipe"], links
    assert links[3:] == ["host input"]  # stdin read through its pipe
    assert src.read_text() == "host input\n"


def test_errors_are_one_line(store_with_image: Path) -> None:
    out = pyb(store_with_image, "run", "nope:latest")
    assert out.returncode == 1 and len(out.stderr.decode().strip().splitlines()) == 1
    out = pyb(store_with_image, "run", "--network", "none", "bb", "no-such-binary")
    assert out.returncode == 127
    assert "no-such-binary: executable file not found in $PATH" in out.stderr.decode()


def test_helpers() -> None:
    assert parse_size("64m") == 64 << 20 and parse_size("1g") == 1 << 30
    assert container_argv(("ep",), ("c",), None, []) == ("ep", "c")
    assert container_argv(("ep",), ("c",), None, ["x"]) == ("ep", "x")
    assert container_argv(("ep",), ("c",), "", []) == ()
    assert container_argv((), ("c",), "sh", ["-c", "x"]) == ("sh", "-c", "x")
    assert merged_env(("A=1", "B=2"), ["B=3", "C=4"]) == (("A", "1"), ("B", "3"), ("C", "4"))
