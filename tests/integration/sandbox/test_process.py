"""Process context: USER from the image's passwd/group, HOME, PATH, WORKDIR, env,
SHELL-style argv, live output, exit status, and Ctrl-C cleanup."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from builder.sandbox import SandboxSpec, StepFailed, UnknownUser, check, run
from tests.fixtures.common import REPO
from tests.integration.sandbox.conftest import sandboxish_mounts, sh


@pytest.mark.parametrize(
    ("user", "expect"),
    [
        ("", "uid=0(root) gid=0(root) groups=0(root)"),
        ("app", "uid=1000(app) gid=1000(app) groups=10(wheel),1000(app)"),
        ("1000", "uid=1000(app) gid=1000(app) groups=10(wheel),1000(app)"),
        ("1000:10", "uid=1000(app) gid=10(wheel) groups=10(wheel)"),
        ("app:nogroup", "uid=1000(app) gid=65534(nogroup) groups=65534(nogroup)"),
        ("4242", "uid=4242 gid=0(root) groups=0(root)"),
    ],
)
def test_user_resolution(rootfs: Path, user: str, expect: str) -> None:
    ran = sh(rootfs, "id", user=user)
    assert ran.out.strip() == expect, ran.err


def test_unknown_user_is_a_clear_error(rootfs: Path) -> None:
    with pytest.raises(UnknownUser, match="unable to find user ghost"):
        sh(rootfs, "id", user="ghost")


def test_home_path_env_and_workdir(rootfs: Path, tmp_path: Path) -> None:
    ran = sh(
        rootfs,
        'echo "$HOME|$PATH|$FOO|$(env | grep -c HOSTNAME)"; pwd',
        user="app",
        cwd="/work/dir",
        env=(("FOO", "bar baz"),),
    )
    lines = ran.out.splitlines()
    assert lines[0] == (
        "/home/app|/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin|bar baz|0"
    )  # BuildKit sets no HOSTNAME in RUN
    assert lines[1] == "/work/dir"
    assert (tmp_path / "upper" / "work" / "dir").is_dir()  # WORKDIR lands in the layer


def test_env_path_overrides_default(rootfs: Path) -> None:
    ran = sh(rootfs, "echo $PATH", env=(("PATH", "/bin"),))
    assert ran.out.strip() == "/bin"


def test_shell_instruction_argv(rootfs: Path) -> None:
    # SHELL ["/bin/ash", "-eo", "pipefail", "-c"] then RUN false | true
    spec = SandboxSpec(
        rootfs=rootfs, argv=("/bin/ash", "-eo", "pipefail", "-c", "false | true"), network="none"
    )
    assert run(spec, stdout=lambda b: None).exit_code == 1


def test_exit_status_and_signal_propagate(rootfs: Path) -> None:
    assert sh(rootfs, "exit 42").result.exit_code == 42
    # PID 1 gets no signal it has no handler for (as the command in docker run)...
    assert sh(rootfs, "kill -TERM $$; echo alive").out == "alive\n"
    # ...and behind --init the command is an ordinary process: tini reports 128+N
    assert sh(rootfs, "kill -TERM $$", init=True).result.exit_code == 143
    with pytest.raises(StepFailed, match="RUN exit 3: the command exited with code 3"):
        check(sh(rootfs, "exit 3").result, "RUN exit 3")


def test_the_command_is_found_in_the_step_s_path(rootfs: Path) -> None:
    """PID 1 execs the command through the step's PATH (not pybuild's): a match that
    is not executable is passed over, and when it is the only one the exit is 126."""
    for d in ("a", "b"):
        (rootfs / d).mkdir()
    (rootfs / "a" / "tool").write_text("#!/bin/sh\necho from-a\n")
    (rootfs / "b" / "tool").write_text("#!/bin/sh\necho from-b\n")
    (rootfs / "b" / "tool").chmod(0o755)
    got = []
    for path in ("/a:/b", "/a"):
        out: list[bytes] = []
        err: list[bytes] = []
        spec = SandboxSpec(rootfs=rootfs, argv=("tool",), env=(("PATH", path),), network="none")
        res = run(spec, stdout=out.append, stderr=err.append)
        got.append((res.exit_code, b"".join(out), b"".join(err)))
    assert got[0] == (0, b"from-b\n", b"")
    assert got[1][0] == 126 and b"exec tool: Permission denied" in got[1][2]


def test_missing_executable_is_127(rootfs: Path) -> None:
    err: list[bytes] = []
    res = run(
        SandboxSpec(rootfs=rootfs, argv=("nope-cmd",), network="none"),
        stdout=lambda b: None,
        stderr=err.append,
    )
    assert res.exit_code == 127
    assert b"nope-cmd: executable file not found in $PATH" in b"".join(err)


def test_output_streams_live(rootfs: Path) -> None:
    seen: list[tuple[float, bytes]] = []
    start = time.monotonic()
    res = run(
        SandboxSpec(
            rootfs=rootfs, argv=("sh", "-c", "echo first; sleep 1; echo second >&2"), network="none"
        ),
        stdout=lambda b: seen.append((time.monotonic() - start, b)),
        stderr=lambda b: seen.append((time.monotonic() - start, b)),
    )
    assert res.exit_code == 0
    assert [b for _, b in seen] == [b"first\n", b"second\n"]
    assert seen[0][0] < seen[1][0] - 0.5  # the first line arrived before the sleep ended


def test_output_to_fd(rootfs: Path, tmp_path: Path) -> None:
    out = tmp_path / "out.txt"
    with open(out, "wb") as f:
        run(
            SandboxSpec(rootfs=rootfs, argv=("echo", "to-a-file"), network="none"),
            stdout=f.fileno(),
        )
    assert out.read_text() == "to-a-file\n"


def test_ctrl_c_ends_the_tree_and_cleans_up(rootfs: Path, tmp_path: Path) -> None:
    tag = "8123.5"
    # Ctrl-C in a terminal reaches a process whose SIGINT is Python's default; a test
    # started from a background job inherits SIGINT ignored, so set it as a shell would
    script = textwrap.dedent(f"""
        import signal, sys
        signal.signal(signal.SIGINT, signal.default_int_handler)
        sys.path.insert(0, {str(REPO)!r})
        from pathlib import Path
        from builder.sandbox import SandboxSpec, run
        print("go", flush=True)
        run(SandboxSpec(rootfs=Path({str(rootfs)!r}), network="none", memory=64 << 20,
                        cgroup_parent="pybuild-ctrlc",
                        argv=("sh", "-c", "sleep {tag} & sleep {tag}; echo never")))
    """)
    mounts_before = sandboxish_mounts(tmp_path)
    proc = subprocess.Popen(
        [sys.executable, "-c", script], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )
    try:
        assert proc.stdout is not None and proc.stdout.readline() == "go\n"
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline and len(_procs_with(tag)) < 2:
            time.sleep(0.05)
        assert len(_procs_with(tag)) == 2
        proc.send_signal(signal.SIGINT)
        try:
            _, err = proc.communicate(timeout=10)
        except subprocess.TimeoutExpired:
            pytest.fail(f"pybuild did not end 10 s after SIGINT: {_where(proc.pid, tag)}")
    finally:
        proc.kill()
        proc.wait()
    assert "KeyboardInterrupt" in err
    assert _procs_with(tag) == []
    assert sandboxish_mounts(tmp_path) == mounts_before
    cg = Path("/sys/fs/cgroup/memory/pybuild-ctrlc")
    assert not [d for d in cg.iterdir() if d.is_dir()]
    cg.rmdir()


def _where(pid: int, tag: str) -> str:
    """What a hung process waits in, its children, and the tagged processes left."""

    def read(path: str) -> str:
        try:
            return Path(path).read_text().replace("\0", " ").strip()
        except OSError as e:
            return f"? ({e.strerror})"

    tasks = sorted(os.listdir(f"/proc/{pid}/task")) if os.path.exists(f"/proc/{pid}") else []
    waits = {t: read(f"/proc/{pid}/task/{t}/wchan") for t in tasks}
    kids = " ".join(read(f"/proc/{pid}/task/{t}/children") for t in tasks).split()
    left = {k: read(f"/proc/{k}/cmdline") for k in kids}
    return f"threads waiting in {waits}; children {left}; tagged left {_procs_with(tag)}"


def _procs_with(tag: str) -> list[int]:
    found = []
    for p in Path("/proc").iterdir():
        if p.name.isdigit():
            try:
                cmd = (p / "cmdline").read_bytes().split(b"\0")
                if cmd[:2] == [b"sleep", tag.encode()]:
                    found.append(int(p.name))
            except OSError:
                pass
    return found


@pytest.mark.parametrize("who", ["", "app"])
def test_pid1_forwards_sigterm(rootfs: Path, who: str) -> None:
    # PID 1 forwards to the command, which traps it and exits cleanly.
    ran = sh(rootfs, "trap 'echo got-term; exit 7' TERM; kill -TERM 1; sleep 2 & wait", user=who)
    assert "got-term" in ran.out
    assert ran.result.exit_code == 7
    assert os.getpid() > 0


def test_concurrent_runs_from_threads(rootfs: Path, tmp_path: Path) -> None:
    """The engine runs stages on threads: sandboxes started from worker threads work
    side by side, each with its own namespaces."""
    from concurrent.futures import ThreadPoolExecutor

    def one(i: int) -> tuple[int, str]:
        ran = sh(rootfs, f"echo $$ {i} $(hostname); sleep 0.3", hostname=f"h{i}")
        return ran.result.exit_code, ran.out.strip()

    with ThreadPoolExecutor(4) as pool:
        got = list(pool.map(one, range(4)))
    assert got == [(0, f"1 {i} h{i}") for i in range(4)]


def test_setup_errors_are_one_line(rootfs: Path, tmp_path: Path) -> None:
    from builder.sandbox import Mount, SandboxSetupError

    with pytest.raises(SandboxSetupError) as exc:
        sh(rootfs, "true", mounts=(Mount("/data", "bind", tmp_path / "does-not-exist"),))
    assert "\n" not in str(exc.value)
    assert "sandbox setup" in str(exc.value) and "/data" in str(exc.value)


def test_non_executable_is_126(rootfs: Path) -> None:
    (rootfs / "not-exec").write_text("#!/bin/sh\necho hi\n")
    err: list[bytes] = []
    res = run(
        SandboxSpec(rootfs=rootfs, argv=("/not-exec",), network="none"),
        stdout=lambda b: None,
        stderr=err.append,
    )
    assert res.exit_code == 126
    assert b"exec /not-exec: Permission denied" in b"".join(err)


def test_umask_is_022_whatever_pybuilds_is(rootfs: Path) -> None:
    old = os.umask(0o077)
    try:
        ran = sh(
            rootfs,
            "umask; touch /tmp/f; mkdir /tmp/d; stat -c %a /tmp/f /tmp/d",
            cwd="/made/by/workdir",
        )
    finally:
        os.umask(old)
    assert ran.out.split() == ["0022", "644", "755"]
    assert oct((rootfs / "made" / "by").stat().st_mode & 0o777) == "0o755"
