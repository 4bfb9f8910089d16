"""Progress renderers: plain lines, JSON events valid against the schema, tty, quiet."""

from __future__ import annotations

import io
import json
from pathlib import Path

import jsonschema
import pytest

from builder.progress import make_progress

SCHEMA = json.loads(
    (Path(__file__).resolve().parents[3] / "builder" / "progress_schema.json").read_text()
)


def _drive(p):
    p.step_started(1, "", "1/3", "FROM busybox")
    p.step_cached(1)
    p.step_done(1, 0.0)
    p.step_started(2, "builder", "2/3", "RUN make", reason="re-ran: src/app.py changed")
    p.step_log(2, "compiling\n")
    p.transfer(2, "layer sha256:abc", 50, 100)
    p.transfer(2, "layer sha256:abc", 100, 100)
    p.step_done(2, 1.25)
    p.step_started(3, "builder", "3/3", "RUN false")
    p.step_error(3, 'process "/bin/sh -c false" did not complete successfully: exit code: 1')
    p.message("naming to docker.io/library/app:1")
    p.finish("sha256:" + "0" * 64)


def test_plain_is_buildkit_style():
    out = io.StringIO()
    _drive(make_progress("plain", out))
    lines = out.getvalue().splitlines()
    assert lines[:2] == ["#1 [1/3] FROM busybox", "#1 CACHED"] and "#1 DONE 0.0s" not in lines
    assert "#2 [builder 2/3] RUN make" in lines
    assert "#2 re-ran: src/app.py changed" in lines
    assert any(line.startswith("#2 0.") and line.endswith(" compiling") for line in lines)
    assert "#2 DONE 1.2s" in lines or "#2 DONE 1.3s" in lines
    assert lines[-2].startswith("#3 ERROR: process")


def test_plain_says_cached_once_for_a_hit_in_a_remote_cache():
    out = io.StringIO()
    p = make_progress("plain", out)
    p.step_started(4, "", "2/3", "RUN make", reason="CACHED (from registry r:5000/c:1)")
    p.step_cached(4)
    p.step_done(4, 0.0)
    assert out.getvalue().splitlines() == [
        "#4 [2/3] RUN make",
        "#4 CACHED (from registry r:5000/c:1)",
    ]


def test_json_events_match_schema():
    out = io.StringIO()
    _drive(make_progress("json", out))
    events = [json.loads(line) for line in out.getvalue().splitlines()]
    for e in events:
        jsonschema.validate(e, SCHEMA)
    kinds = [e["event"] for e in events]
    assert kinds[0] == "step_started" and kinds[-1] == "finish"
    assert {"step_cached", "step_log", "transfer", "step_error", "message"} <= set(kinds)
    started = [e for e in events if e["event"] == "step_started"]
    assert started[1]["reason"] == "re-ran: src/app.py changed"


def test_schema_rejects_bad_event():
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate({"v": 1, "time": 0, "event": "step_done", "id": 1}, SCHEMA)


def test_tty_renders_marks_and_tail():
    out = io.StringIO()
    _drive(make_progress("tty", out))
    text = out.getvalue()
    assert "CACHED" in text and "RUN make" in text and "re-ran: src/app.py changed" in text


def test_quiet_and_auto():
    out = io.StringIO()
    _drive(make_progress("quiet", out))
    assert out.getvalue() == ""
    assert type(make_progress("auto", io.StringIO())).__name__ == "PlainProgress"
