"""Network modes against real servers on this machine: loopback for none/host, and a
non-loopback address of this host for default (slirp4netns)."""

from __future__ import annotations

import socket
import subprocess
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.integration.sandbox.conftest import sh

FALLBACK_DEV, FALLBACK_ADDR = "pbsbx0", "198.18.77.1"


def _serve(addr: str) -> tuple[socket.socket, int]:
    srv = socket.socket()
    srv.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    srv.bind((addr, 0))
    srv.listen(8)

    def loop() -> None:
        while True:
            try:
                conn, _ = srv.accept()
            except OSError:
                return
            with conn:
                conn.sendall(b"hello-from-host\n")

    threading.Thread(target=loop, daemon=True).start()
    return srv, srv.getsockname()[1]


def _global_ipv4() -> str | None:
    out = subprocess.run(
        ["ip", "-o", "-4", "addr", "show", "scope", "global"], capture_output=True, text=True
    ).stdout
    for line in out.splitlines():
        return line.split()[3].split("/")[0]
    return None


@pytest.fixture
def host_addr() -> Iterator[str]:
    """A non-loopback address of this machine (made on a dummy link if there is none)."""
    addr = _global_ipv4()
    if addr:
        yield addr
        return
    subprocess.run(["ip", "link", "add", FALLBACK_DEV, "type", "dummy"], check=True)
    try:
        subprocess.run(
            ["ip", "addr", "add", f"{FALLBACK_ADDR}/32", "dev", FALLBACK_DEV], check=True
        )
        subprocess.run(["ip", "link", "set", FALLBACK_DEV, "up"], check=True)
        yield FALLBACK_ADDR
    finally:
        subprocess.run(["ip", "link", "del", FALLBACK_DEV], check=False)


def _connect(addr: str, port: int) -> str:
    return f"nc -w 3 {addr} {port} </dev/null; echo rc=$?"


def test_none_has_loopback_only_and_no_host_loopback(rootfs: Path) -> None:
    srv, port = _serve("127.0.0.1")
    with srv:
        ran = sh(rootfs, "ls /sys/class/net; " + _connect("127.0.0.1", port), network="none")
    assert ran.out.split()[0] == "lo"
    assert "hello-from-host" not in ran.out and "rc=1" in ran.out


def test_host_network_reaches_host_loopback(rootfs: Path) -> None:
    srv, port = _serve("127.0.0.1")
    with srv:
        ran = sh(rootfs, _connect("127.0.0.1", port), network="host")
    assert "hello-from-host" in ran.out, ran.err


def test_default_network_reaches_host_address_not_host_loopback(
    rootfs: Path, host_addr: str
) -> None:
    srv, port = _serve(host_addr)
    lo, lo_port = _serve("127.0.0.1")
    with srv, lo:
        ran = sh(
            rootfs,
            "ls /sys/class/net | tr '\\n' ' '; echo; "
            + _connect(host_addr, port)
            + "; "
            + _connect("10.0.2.2", lo_port),
            network="default",
        )
    assert ran.result.exit_code == 0, ran.err
    first, *rest = ran.out.splitlines()
    assert set(first.split()) == {"lo", "tap0"}
    assert rest[0] == "hello-from-host"
    assert "rc=0" in rest[1]
    assert "hello-from-host" not in "".join(rest[2:])  # --disable-host-loopback


def test_default_network_resolv_conf_points_at_slirp_dns(rootfs: Path) -> None:
    ran = sh(rootfs, "cat /etc/resolv.conf; grep pybuild /etc/hosts", network="default")
    assert "nameserver 10.0.2.3" in ran.out
    assert "10.0.2.100\tpybuild" in ran.out
