"""Network modes: `none` (own namespace, loopback up), `host` (the host's stack) and
`default` (own namespace plus slirp4netns: user-mode NAT, no host loopback). Also the
/etc/hosts, /etc/resolv.conf and /etc/hostname contents the sandbox bind-mounts."""

from __future__ import annotations

import fcntl
import os
import shutil
import socket
import struct
import subprocess
from pathlib import Path

from builder.sandbox.errors import SandboxSetupError

SIOCGIFFLAGS, SIOCSIFFLAGS, IFF_UP = 0x8913, 0x8914, 0x1
SLIRP_DNS = "10.0.2.3"
SLIRP_GUEST = "10.0.2.100"


def loopback_up() -> None:
    """Bring `lo` up in the current (new) network namespace."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        req = struct.pack("16sH14x", b"lo", 0)
        flags = struct.unpack("16sH14x", fcntl.ioctl(s.fileno(), SIOCGIFFLAGS, req))[1]
        fcntl.ioctl(s.fileno(), SIOCSIFFLAGS, struct.pack("16sH14x", b"lo", flags | IFF_UP))


def hosts_content(network: str, hostname: str, extra: tuple[tuple[str, str], ...]) -> str:
    if network == "host":
        base = _read("/etc/hosts")
    else:
        ip = SLIRP_GUEST if network == "default" else "127.0.0.1"
        base = (
            "127.0.0.1\tlocalhost\n::1\tlocalhost ip6-localhost ip6-loopback\n"
            "fe00::0\tip6-localnet\nff00::0\tip6-mcastprefix\nff02::1\tip6-allnodes\n"
            f"ff02::2\tip6-allrouters\n{ip}\t{hostname}\n"
        )
    return base + "".join(f"{ip}\t{name}\n" for name, ip in extra)


def resolv_content(network: str) -> str:
    host = _read("/etc/resolv.conf")
    if network == "host":
        return host
    lines = [
        ln
        for ln in host.splitlines()
        if not (ln.startswith("nameserver") and _is_loopback(ln.split()[1:2]))
    ]
    if network == "default":
        lines = [ln for ln in lines if not ln.startswith("nameserver")]
        lines.insert(0, f"nameserver {SLIRP_DNS}")
    return "\n".join(lines) + "\n"


def _is_loopback(addr: list[str]) -> bool:
    return bool(addr) and (addr[0].startswith("127.") or addr[0] == "::1")


def _read(path: str) -> str:
    try:
        return Path(path).read_text()
    except OSError:
        return ""


class Slirp:
    """A slirp4netns process serving the network namespace of `pid`."""

    def __init__(self, pid: int) -> None:
        binary = shutil.which("slirp4netns")
        if binary is None:
            raise SandboxSetupError(
                "slirp4netns is missing: apt-get install slirp4netns, or use --network none|host"
            )
        if not os.access("/dev/net/tun", os.R_OK | os.W_OK):
            raise SandboxSetupError(
                "the default network needs /dev/net/tun, which this user "
                "cannot open: chmod 0666 /dev/net/tun (Debian's default), "
                "or use --network none|host"
            )
        ready_r, ready_w = os.pipe()
        self._exit_r, self._exit_w = os.pipe()
        try:
            self.proc = subprocess.Popen(
                [
                    binary,
                    "--configure",
                    "--mtu=65520",
                    "--disable-host-loopback",
                    f"--ready-fd={ready_w}",
                    f"--exit-fd={self._exit_r}",
                    str(pid),
                    "tap0",
                ],
                pass_fds=(ready_w, self._exit_r),
                stdin=subprocess.DEVNULL,
                stdout=subprocess.DEVNULL,
                stderr=subprocess.PIPE,
            )
        finally:
            os.close(ready_w)
            os.close(self._exit_r)
        try:
            ok = os.read(ready_r, 1)
        finally:
            os.close(ready_r)
        if ok != b"1":
            err = (
                self.proc.stderr.read().decode(errors="replace").strip() if self.proc.stderr else ""
            )
            self.stop()
            raise SandboxSetupError(
                f"slirp4netns failed to set up the network: "
                f"{err.splitlines()[-1] if err else 'no output'}; "
                "use --network none|host"
            )

    def stop(self) -> None:
        if self._exit_w >= 0:
            os.close(self._exit_w)
            self._exit_w = -1
        try:
            self.proc.wait(timeout=5)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        if self.proc.stderr:
            self.proc.stderr.close()
