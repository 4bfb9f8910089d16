"""Which overlay upper dirs count as "no change" (so a step gets no layer)."""

from __future__ import annotations

import os

from builder.engine.layers import upper_is_empty


def test_empty_and_mount_stub_only_uppers(tmp_path):
    up = tmp_path / "upper"
    up.mkdir()
    assert upper_is_empty(up, [])
    (up / "etc").mkdir()
    (up / "etc" / "hosts").write_text("")
    (up / "run" / "secrets").mkdir(parents=True)
    (up / "run" / "secrets" / "tok").write_text("")
    assert upper_is_empty(up, ["/etc/hosts", "/run/secrets/tok"])
    assert not upper_is_empty(up, ["/etc/hosts"])


def test_any_real_change_counts(tmp_path):
    up = tmp_path / "upper"
    (up / "etc").mkdir(parents=True)
    (up / "etc" / "hosts").write_text("")
    (up / "etc" / "motd").write_text("hi")
    assert not upper_is_empty(up, ["/etc/hosts"])
    os.remove(up / "etc" / "motd")
    os.mknod(up / "gone", 0o600 | 0o020000, 0)  # an overlay whiteout
    assert not upper_is_empty(up, ["/etc/hosts"])
