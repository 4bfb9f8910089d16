"""The tty view's transfer bars show bytes, rate and ETA while a blob moves,
and the average rate once it is done."""

from __future__ import annotations

import io
import re
import time

import pytest

from builder.progress import PlainProgress, TtyProgress, make_progress

ANSI = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]")


@pytest.fixture(autouse=True)
def _terminal(monkeypatch: pytest.MonkeyPatch) -> None:
    """The live view needs a terminal that can redraw, whatever TERM the suite runs in."""
    monkeypatch.setenv("TERM", "xterm-256color")


class _Tty(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_auto_is_the_live_view_on_a_terminal_and_plain_on_a_dumb_one(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    assert isinstance(make_progress("auto", io.StringIO()), PlainProgress)
    live = make_progress("auto", _Tty())
    assert isinstance(live, TtyProgress)
    live.finish("")
    monkeypatch.setenv("TERM", "dumb")
    assert isinstance(make_progress("auto", _Tty()), PlainProgress)


def test_tty_transfer_shows_bytes_rate_and_eta() -> None:
    out = io.StringIO()
    p = make_progress("tty", out)
    p.step_started(1, "", "", "pull 0123456789ab")
    p.transfer(1, "0123456789ab", 0, 4_000_000)
    time.sleep(0.5)
    p.transfer(1, "0123456789ab", 1_000_000, 4_000_000)
    time.sleep(0.3)  # the live view redraws 8 times a second
    moving = ANSI.sub("", out.getvalue())
    m = re.search(r"0123456789ab 1\.00MB/4\.00MB  (\d+\.\d\d)MB/s  ETA (\d+)s", moving)
    assert m, moving[-800:]
    rate, eta = float(m.group(1)), int(m.group(2))
    assert 1.0 < rate < 2.1 and 1 <= eta <= 3  # ~1 MB in 0.5-0.8 s; 3 MB to go
    assert "━" in moving  # the bar
    p.transfer(1, "0123456789ab", 4_000_000, 4_000_000)
    p.step_done(1, 1.0)
    p.finish("")
    done = ANSI.sub("", out.getvalue()).rsplit("[+] Building", 1)[1]
    assert re.search(r"0123456789ab 4\.00MB/4\.00MB  \d+\.\d\dMB/s\n", done), done
    assert "ETA" not in done
