"""`--progress` for real builds, pulls and pushes through the `pybuild`
command. `tty` (and `auto` on a terminal) runs under a pseudo-terminal and is read
back as a screen; `plain` is BuildKit's numbered lines; every `json` line validates
against builder/progress_schema.json; `quiet` prints only the image id."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from jsonschema import Draft202012Validator

from tests.integration.cli.helpers import BASE_ENV, REPO, pyb, pybuild_argv
from tests.integration.cli.screen import run_on_pty

pytestmark = pytest.mark.root

DOCKERFILE = """\
FROM busybox
RUN echo first-line; sleep 1.2; echo tail-marker
COPY app.txt /app.txt
RUN echo built > /built
"""
ID = re.compile(r"^sha256:[0-9a-f]{64}$")


@pytest.fixture
def project(build_store: Path, tmp_path: Path) -> tuple[Path, Path]:
    ctx = tmp_path / "ctx"
    ctx.mkdir()
    (ctx / "Dockerfile").write_text(DOCKERFILE)
    (ctx / "app.txt").write_text("v1\n")
    return build_store, ctx


def _tty(root: Path, *args: object) -> tuple[int, str, list[str]]:
    env = {**BASE_ENV, "PYBUILD_ROOT": str(root)}
    code, screen, _ = run_on_pty([*pybuild_argv(), *map(str, args)], env, str(REPO))
    return code, screen.text(), screen.frames


def test_tty_live_view_steps_timers_tail_and_cached(project) -> None:
    root, ctx = project
    code, text, frames = _tty(root, "--progress", "tty", "-t", "live:1", ctx)
    assert code == 0, text
    assert text.startswith("[+] Building ")
    step2 = "=> #2 [2/4] RUN echo first-line; sleep 1.2; echo tail-marker"
    # the final screen: every step with its timer, and the miss reason
    for label in (
        "=> #1 [1/4] FROM busybox",
        step2,
        "=> #3 [3/4] COPY app.txt /app.txt",
        "=> #4 [4/4] RUN echo built > /built",
    ):
        assert re.search(re.escape(label) + r"  \d+\.\ds", text), (label, text)
    assert "(re-ran: not built before)" in text
    # while step 2 ran: the tail of its output under it, and its timer counting up
    running = [f for f in frames if step2 in f and "    first-line" in f]
    assert running, frames[-1]
    timers = {float(m) for f in running for m in re.findall(re.escape(step2) + r"  (\d+\.\d)s", f)}
    assert len(timers) >= 3 and max(timers) >= 1.0, timers
    assert not any("tail-marker" in line and line.startswith("    ") for line in text.splitlines())

    # a rebuild: every step CACHED; then one file changes and only its steps re-run
    code, text, _ = _tty(root, "--progress", "tty", "-t", "live:1", ctx)
    assert code == 0, text
    assert re.search(r"=> CACHED #2 \[2/4\] RUN echo first-line", text), text
    assert re.search(r"=> CACHED #4 \[4/4\] RUN echo built", text), text
    (ctx / "app.txt").write_text("v2\n")
    code, text, _ = _tty(root, "--progress", "auto", "-t", "live:1", ctx)  # auto = tty here
    assert code == 0 and text.startswith("[+] Building "), text
    assert re.search(r"=> CACHED #2 \[2/4\]", text)
    assert re.search(r"=> #3 \[3/4\] COPY app.txt /app.txt  \d+\.\ds  \(re-ran: .*app\.txt", text)
    assert re.search(r"=> #4 \[4/4\] RUN echo built > /built  \d+\.\ds", text)


def test_tty_failed_step_shows_its_output_and_one_error_line(project) -> None:
    root, ctx = project
    (ctx / "Dockerfile").write_text("FROM busybox\nRUN echo why-it-broke; exit 7\n")
    code, text, _ = _tty(root, "--progress", "tty", ctx)
    assert code == 1
    assert re.search(r"=> ERROR #2 \[2/2\] RUN echo why-it-broke; exit 7  \d+\.\ds", text), text
    assert "    why-it-broke" in text
    assert text.splitlines()[-1] == (
        "Dockerfile:2: step 2/2 `RUN echo why-it-broke; exit 7`: "
        'process "/bin/sh -c echo why-it-broke; exit 7" did not '
        "complete successfully: exit code: 7"
    )
    assert "Traceback" not in text


def test_plain_is_buildkit_style_and_auto_without_a_terminal(project) -> None:
    root, ctx = project
    out = pyb(root, "-t", "plain:1", ctx)  # auto, stderr is a pipe: plain
    assert out.returncode == 0, out.stderr
    lines = out.stderr.splitlines()
    assert lines[0] == "#1 [1/4] FROM busybox"
    assert "#2 [2/4] RUN echo first-line; sleep 1.2; echo tail-marker" in lines
    assert any(re.fullmatch(r"#2 \d+\.\d{3} first-line", x) for x in lines), lines
    assert any(re.fullmatch(r"#2 \d+\.\d{3} tail-marker", x) for x in lines), lines
    assert any(re.fullmatch(r"#2 DONE (1\.[2-9]|[2-9]\.\d)s", x) for x in lines), lines
    assert "#3 [3/4] COPY app.txt /app.txt" in lines and out.stdout == ""
    again = pyb(root, "--progress", "plain", "-t", "plain:1", ctx)
    assert again.returncode == 0
    for n, text in (
        (2, "[2/4] RUN echo first-line; sleep 1.2; echo tail-marker"),
        (3, "[3/4] COPY app.txt /app.txt"),
        (4, "[4/4] RUN echo built > /built"),
    ):
        i = again.stderr.splitlines().index(f"#{n} {text}")
        assert again.stderr.splitlines()[i + 1] == f"#{n} CACHED"
    assert "DONE" not in "".join(x for x in again.stderr.splitlines() if x.startswith(("#2", "#3")))


def test_quiet_prints_only_the_image_id(project) -> None:
    root, ctx = project
    for flags in (("-q",), ("--progress", "quiet")):
        out = pyb(root, *flags, "-t", "q:1", ctx)
        assert out.returncode == 0 and out.stderr == "", out.stderr
        assert ID.match(out.stdout.strip()) and out.stdout.count("\n") == 1
    listed = [json.loads(x) for x in pyb(root, "images", "--json").stdout.splitlines()]
    assert {"repository": "q", "tag": "1", "id": out.stdout.strip()}.items() <= next(
        i for i in listed if i["repository"] == "q"
    ).items()


def _validator() -> Draft202012Validator:
    schema = json.loads((REPO / "builder" / "progress_schema.json").read_text())
    Draft202012Validator.check_schema(schema)
    return Draft202012Validator(schema)


def _events(stderr: str) -> list[dict]:
    v = _validator()
    events = []
    for line in stderr.splitlines():
        ev = json.loads(line)  # every line is one JSON object
        errors = sorted(v.iter_errors(ev), key=str)
        assert not errors, (line, [e.message for e in errors])
        events.append(ev)
    return events


def test_json_events_follow_the_schema(project) -> None:
    root, ctx = project
    out = pyb(root, "--progress", "json", "-t", "j:1", ctx)
    assert out.returncode == 0, out.stderr
    events = _events(out.stderr)
    kinds = [e["event"] for e in events]
    assert {"step_started", "step_log", "step_done", "cache_report", "finish"} <= set(kinds)
    assert kinds[-1] == "finish" and ID.match(events[-1]["image_id"])
    started = {e["id"] for e in events if e["event"] == "step_started"}
    assert {e["id"] for e in events if e["event"] in ("step_done", "step_log")} <= started
    logs = [e["line"] for e in events if e["event"] == "step_log"]
    assert "first-line" in logs and "tail-marker" in logs
    assert [e["time"] for e in events] == sorted(e["time"] for e in events)
    # rebuild: step_cached events, and a failing build's step_error
    cached = _events(pyb(root, "--progress", "json", "-t", "j:1", ctx).stderr)
    assert sum(e["event"] == "step_cached" for e in cached) == 3
    (ctx / "Dockerfile").write_text("FROM busybox\nRUN echo bad; exit 4\n")
    failed = pyb(root, "--progress", "json", ctx)
    assert failed.returncode == 1
    lines = failed.stderr.splitlines()
    error_line = lines[-1]
    assert error_line.startswith("Dockerfile:2: step 2/2") and "exit code: 4" in error_line
    json_part = [x for x in lines if x.startswith("{")]
    events = _events("\n".join(json_part))
    assert any(e["event"] == "step_error" and "exit code: 4" in e["message"] for e in events)


@pytest.mark.registry
def test_push_and_pull_progress(registry, build_store: Path, tmp_path: Path) -> None:
    """Transfers: json `transfer` events validate; the tty view shows byte counts and
    a bar per blob for pushes and pulls."""
    ref = f"{registry.host}/cli/progress:{tmp_path.name[-12:].lower()}"
    out = pyb(build_store, "push", "--progress", "json", "busybox", ref)
    assert out.returncode == 0, out.stderr
    events = _events(out.stderr)
    transfers = [e for e in events if e["event"] == "transfer"]
    assert transfers and all(e["current"] <= (e["total"] or e["current"]) for e in transfers)
    assert transfers[-1]["current"] == transfers[-1]["total"]
    other = tmp_path / "other"
    code, text, frames = _tty(other, "pull", "--progress", "tty", ref)
    assert code == 0, text
    assert re.search(r"=> #\d+ pull [0-9a-f]{12}", text), text
    # bytes done/total and the average rate
    assert re.search(r"    [0-9a-f]{12} \d+\.\d\dMB/\d+\.\d\dMB  \d+(\.\d\d)?[kMG]?B/s", text), text
    assert "━" in text  # rich's bar
    assert text.splitlines()[-1] == ref
    code, text, _ = _tty(tmp_path / "third", "push", "--progress", "tty", "busybox", ref)
    assert code == 1  # a store without busybox
    assert text.strip().splitlines()[-1] == "image not found: busybox"
    code, text, _ = _tty(build_store, "push", "--progress", "tty", "busybox", ref + "-again")
    assert code == 0, text
    assert re.search(r"=> CACHED #\d+ push [0-9a-f]{12}", text), text  # blobs already there
