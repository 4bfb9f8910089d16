"""Run a command on a pseudo-terminal and replay what it drew: a tiny terminal for the
escape sequences a rich live view uses (CR, LF, erase line, cursor up/down, SGR)."""

from __future__ import annotations

import fcntl
import os
import re
import struct
import subprocess
import termios
import time
from dataclasses import dataclass, field

CSI = re.compile(rb"\x1b\[([0-9;?]*)([A-Za-z])|\x1b[()][A-Za-z0-9]|\x1b[=>78]")


@dataclass
class Screen:
    """What a terminal shows; `frames` are snapshots taken at each carriage return
    (rich redraws its live view from column 0)."""

    lines: list[str] = field(default_factory=lambda: [""])
    row: int = 0
    col: int = 0
    frames: list[str] = field(default_factory=list)

    def feed(self, data: bytes) -> None:
        pos = 0
        for m in CSI.finditer(data):
            self._text(data[pos : m.start()])
            self._csi(m.group(1) or b"", m.group(2) or b"")
            pos = m.end()
        self._text(data[pos:])

    def _text(self, raw: bytes) -> None:
        for ch in raw.decode("utf-8", "replace"):
            if ch == "\r":
                self.frames.append(self.text())
                self.col = 0
            elif ch == "\n":
                self.row += 1
                while len(self.lines) <= self.row:
                    self.lines.append("")
            elif ch >= " ":
                line = self.lines[self.row].ljust(self.col)
                self.lines[self.row] = line[: self.col] + ch + line[self.col + 1 :]
                self.col += 1

    def _csi(self, params: bytes, cmd: bytes) -> None:
        n = int(params) if params.isdigit() else 1
        if cmd == b"A":
            self.row = max(0, self.row - n)
        elif cmd == b"B":
            self.row += n
            while len(self.lines) <= self.row:
                self.lines.append("")
        elif cmd == b"K":  # erase in line: 2 = all of it, else from the cursor on
            self.lines[self.row] = "" if params == b"2" else self.lines[self.row][: self.col]
        elif cmd == b"G":
            self.col = max(0, n - 1)
        # SGR (m), cursor show/hide (h/l) and the rest change nothing we read

    def text(self) -> str:
        return "\n".join(line.rstrip() for line in self.lines).rstrip("\n")


def run_on_pty(
    argv: list[str],
    env: dict[str, str],
    cwd: str,
    timeout: float = 120,
    columns: int = 160,
    rows: int = 50,
) -> tuple[int, Screen, bytes]:
    """Run `argv` with stdin/stdout/stderr on a new pty; returns (exit code, screen, raw)."""
    master, slave = os.openpty()
    fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", rows, columns, 0, 0))
    proc = subprocess.Popen(
        argv,
        stdin=slave,
        stdout=slave,
        stderr=slave,
        cwd=cwd,
        env={"TERM": "xterm-256color", **env},
        start_new_session=True,
    )
    os.close(slave)
    screen, raw = Screen(), b""
    deadline = time.monotonic() + timeout
    try:
        while time.monotonic() < deadline:
            try:
                chunk = os.read(master, 65536)
            except OSError:  # EIO: every writer has closed the pty
                break
            if not chunk:
                break
            raw += chunk
            screen.feed(chunk)
        code = proc.wait(timeout=max(1.0, deadline - time.monotonic()))
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        os.close(master)
    return code, screen, raw
