"""PID namespace: the command is PID 1 (as in `docker run` and BuildKit's RUN), with
nothing of pybuild beside it; `init=True` puts tini in front, as `docker run --init`
does; a private /proc, no way to the host's processes, and nothing left running when
the step ends."""

from __future__ import annotations

import os
from pathlib import Path

from tests.integration.sandbox.conftest import sh


def test_the_command_is_pid_1_and_proc_shows_only_its_processes(rootfs: Path) -> None:
    ran = sh(rootfs, "ls -d /proc/[0-9]* | wc -l; echo self=$$")
    assert ran.result.exit_code == 0, ran.err
    count, me = ran.out.split()
    # the shell (PID 1), and ls/wc
    assert int(count) <= 3
    assert me == "self=1"


def test_nothing_of_the_host_is_visible_through_proc_1(rootfs: Path) -> None:
    """What an attacker reads first: PID 1's command line, environment and binary are
    the command's, not pybuild's Python with its arguments."""
    secret = "host-only-7c1d"
    os.environ["PYBUILD_TEST_SECRET"] = secret
    try:
        ran = sh(
            rootfs,
            "tr '\\0' ' ' < /proc/1/cmdline; echo; tr '\\0' ' ' < /proc/1/environ; echo; "
            "readlink /proc/1/exe; readlink /proc/self/exe",
            env=(("MINE", "1"),),
        )
    finally:
        del os.environ["PYBUILD_TEST_SECRET"]
    assert ran.result.exit_code == 0, ran.err
    cmdline, environ, exe, self_exe = ran.out.splitlines()
    assert cmdline.startswith("/bin/sh -c ")
    assert "MINE=1" in environ and secret not in ran.out and "python" not in ran.out
    for link in (exe, self_exe):  # a path of the image's root, not of the host's
        assert (rootfs / link.lstrip("/")).exists(), link


def test_pid_1_does_not_reap_without_init(rootfs: Path) -> None:
    """As in `docker run` without --init: orphans go to PID 1, the command, and a
    command that does not wait for them leaves their zombies."""
    ran = sh(rootfs, _ORPHANS)
    assert ran.result.exit_code == 0, ran.err
    assert " Z" in ran.out


def test_init_reaps_orphaned_zombies(rootfs: Path) -> None:
    ran = sh(rootfs, _ORPHANS, init=True)
    assert ran.result.exit_code == 0, ran.err
    assert " Z" not in ran.out and " S" in ran.out
    assert "pid1=/sbin/docker-init -- /bin/sh -c" in ran.out


def test_init_passes_the_exit_code_and_the_output_through(rootfs: Path) -> None:
    ran = sh(rootfs, "echo out; echo err >&2; exit 3", init=True)
    assert (ran.result.exit_code, ran.out, ran.err) == (3, "out\n", "err\n")


# A watcher in the background; five subshells that exit at once, orphaning their
# short `sleep` children to PID 1; then PID 1 becomes `sleep`, which waits for no one.
_ORPHANS = (
    "(sleep 0.3; echo pid1=$(tr '\\0' ' ' < /proc/1/cmdline); "
    "cat /proc/[0-9]*/stat 2>/dev/null | awk '{print $3}' | sort | uniq -c) & "
    "for i in 1 2 3 4 5; do (sleep 0.1 &) ; done; exec sleep 0.6"
)


def test_host_pids_cannot_be_signalled(rootfs: Path) -> None:
    ran = sh(rootfs, f"kill -0 {os.getpid()}; echo rc=$?")
    assert "rc=1" in ran.out


def test_every_process_is_gone_when_the_step_ends(rootfs: Path) -> None:
    tag = "7391.25"
    ran = sh(rootfs, f"sleep {tag} & sleep {tag} & echo started")
    assert ran.result.exit_code == 0 and "started" in ran.out
    left = []
    for p in Path("/proc").iterdir():
        if p.name.isdigit():
            try:
                if tag.encode() in (p / "cmdline").read_bytes():
                    left.append(p.name)
            except OSError:
                pass
    assert left == []


def test_no_process_holds_a_host_file(rootfs: Path) -> None:
    """Every fd open in the sandbox is a pipe to pybuild or /dev/null (the helper's
    own fds are close-on-exec): nothing to reopen through /proc/N/fd."""
    # (the glob also lists fds that are gone by the time readlink runs)
    ran = sh(rootfs, "for f in /proc/[0-9]*/fd/*; do readlink $f; done; true", init=True)
    assert ran.result.exit_code == 0, ran.err
    targets = set(ran.out.split())
    assert targets and all(t.startswith("pipe:") or t == "/dev/null" for t in targets), targets
