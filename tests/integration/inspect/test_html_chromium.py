"""The HTML report renders in a real headless Chromium (Debian's `chromium`): the
layer chart element has a non-zero size, and the screenshot shows its bars."""

from __future__ import annotations

import re
import shutil
import struct
import subprocess
import zlib
from pathlib import Path

import pytest

from builder.cli import main
from tests.unit.inspect.synth import layer_tar, store_image

BAR_RGB = (0x2F, 0x7D, 0xD1)  # report_html's colour for user layers


def _chromium(tmp: Path, *args: str) -> subprocess.CompletedProcess[str]:
    exe = shutil.which("chromium")
    assert exe, "chromium is not installed (apt-get install chromium; see .ci/apt-packages.txt)"
    profile = tmp / "profile"
    profile.mkdir(exist_ok=True)
    cmd = [
        exe,
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-quic",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--disable-dev-shm-usage",
        f"--user-data-dir={profile}",
        *args,
    ]
    return subprocess.run(cmd, capture_output=True, text=True, timeout=90)


def _png_pixels(data: bytes) -> tuple[int, int, list[bytes]]:
    """Decode an 8-bit RGB/RGBA non-interlaced PNG into rows of pixel bytes."""
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    pos, idat, w = 8, b"", 0
    while pos < len(data):
        n, typ = struct.unpack(">I4s", data[pos : pos + 8])
        body = data[pos + 8 : pos + 8 + n]
        if typ == b"IHDR":
            w, h, depth, ctype, _, _, interlace = struct.unpack(">IIBBBBB", body)
            assert depth == 8 and ctype in (2, 6) and interlace == 0
            bpp = 3 if ctype == 2 else 4
        elif typ == b"IDAT":
            idat += body
        pos += 12 + n
    raw = zlib.decompress(idat)
    stride = w * bpp
    rows, prev = [], bytearray(stride)
    for y in range(h):
        f = raw[y * (stride + 1)]
        line = bytearray(raw[y * (stride + 1) + 1 : (y + 1) * (stride + 1)])
        for x in range(stride):
            a = line[x - bpp] if x >= bpp else 0
            b = prev[x]
            c = prev[x - bpp] if x >= bpp else 0
            if f == 1:
                line[x] = (line[x] + a) & 0xFF
            elif f == 2:
                line[x] = (line[x] + b) & 0xFF
            elif f == 3:
                line[x] = (line[x] + (a + b) // 2) & 0xFF
            elif f == 4:
                p = a + b - c
                pa, pb, pc = abs(p - a), abs(p - b), abs(p - c)
                line[x] = (line[x] + (a if pa <= pb and pa <= pc else b if pb <= pc else c)) & 0xFF
        rows.append(b"".join(bytes(line[i : i + 3]) for i in range(0, stride, bpp)))
        prev = line
    return w, h, rows


@pytest.fixture
def report(store_root: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> Path:
    tars = [
        layer_tar([("file", "bin/busybox", 900_000)]),
        layer_tar([("file", "tmp/big.bin", 600_000)]),
        layer_tar([("del", "tmp/big.bin"), ("file", "app/main", 300_000)]),
    ]
    hist = [
        {"created_by": "ADD rootfs / # buildkit"},
        {"created_by": "RUN /bin/sh -c make # buildkit", "comment": "pybuild:line=2"},
        {"created_by": "RUN /bin/sh -c rm /tmp/big.bin # buildkit", "comment": "pybuild:line=3"},
    ]
    store_image(store_root, "html:1", tars, hist)
    out = tmp_path / "report.html"
    assert main(["inspect", "html:1", "--html", str(out)]) == 0
    capsys.readouterr()
    return out


def test_report_is_self_contained(report: Path) -> None:
    text = report.read_text()
    assert 'id="layer-chart"' in text and "<script" not in text
    assert not re.search(r"(src|href)=\"https?://", text)
    assert "[deleted-later]" in text and "/tmp/big.bin" in text


def test_report_shows_pybuild_s_figure_beside_dive_s(report: Path) -> None:
    text = report.read_text()
    # /tmp/big.bin, 600 kB, deleted: reclaimable by pybuild, wasted by dive's count
    assert "reclaimable <b>600.0 kB</b>" in text
    assert "dive wasted <b>600.0 kB</b>" in text and "dive efficiency" in text


def test_chart_has_a_size_in_chromium(report: Path, tmp_path: Path) -> None:
    probe = tmp_path / "probe.html"
    probe.write_text(
        report.read_text().replace(
            "</body>",
            "<script>const r=document.getElementById('layer-chart')"
            ".getBoundingClientRect();document.body.setAttribute('data-chart',"
            "r.width+'x'+r.height);</script></body>",
        )
    )
    res = _chromium(tmp_path, "--window-size=1200,1600", "--dump-dom", probe.as_uri())
    m = re.search(r'data-chart="([\d.]+)x([\d.]+)"', res.stdout)
    assert m, res.stderr[-2000:]
    width, height = float(m.group(1)), float(m.group(2))
    assert width > 100 and height > 20


def test_screenshot_shows_the_bars(report: Path, tmp_path: Path) -> None:
    shot = tmp_path / "shot.png"
    res = _chromium(
        tmp_path,
        "--window-size=1200,900",
        "--hide-scrollbars",
        f"--screenshot={shot}",
        report.as_uri(),
    )
    assert shot.is_file() and shot.stat().st_size > 1000, res.stderr[-2000:]
    w, h, rows = _png_pixels(shot.read_bytes())
    want = bytes(BAR_RGB)
    blue = sum(1 for row in rows for x in range(0, len(row), 3) if row[x : x + 3] == want)
    assert w == 1200 and blue > 500  # two user-layer bars of real width
