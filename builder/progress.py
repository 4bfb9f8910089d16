"""Build progress: the events the engine reports, and the renderers that show them.

The engine calls one `Progress` object (thread-safe; stages run on threads):

- `step_started(vid, stage, position, text, reason=None)` — a vertex starts; `vid` is a
  small int unique in the build (`#5`), `position` is `"2/4"`, `text` the instruction
  (`RUN make`), `reason` why it re-runs (`re-ran: src/app.py changed`), if known;
- `step_cached(vid)` — the step was a cache hit and executes nothing;
- `step_log(vid, line)` — one line of the step's output (RUN stdout/stderr);
- `step_done(vid, duration)` — finished in `duration` seconds;
- `step_error(vid, message)` — failed;
- `transfer(vid, name, current, total)` — bytes moved for a pull/push/export;
- `message(text)` — a free-form note (`naming to docker.io/library/app:1`);
- `finish(image_id)` — the build is over; `image_id` is the config digest or "".

Renderers (`make_progress(mode, stream)`):

- `plain` — BuildKit's plain output: `#5 [builder 2/4] RUN make`, `#5 re-ran: ...`,
  `#5 CACHED`, `#5 0.123 output line`, `#5 DONE 1.2s`, `#5 ERROR: ...`;
- `json` — one JSON object per line. Every event has `v` (schema version, 1),
  `time` (unix seconds, float) and `event`; then per event:
  `step_started`: `id`, `stage`, `position`, `text`, `reason` (string or null);
  `step_cached`: `id`; `step_log`: `id`, `line`, `elapsed` (seconds since start);
  `step_done`: `id`, `duration`; `step_error`: `id`, `message`;
  `transfer`: `id`, `name`, `current`, `total` (int or null); `message`: `text`;
  `cache_report`: `report` (builder.inspect.cache_report's JSON: steps, cached,
  reran, summary, outcomes); `finish`: `image_id`. The JSON schema is `builder/progress_schema.json`;
- `tty` — a live view (rich): one row per step with its timer, CACHED marks, the miss
  reason, the tail of the running step's output and transfer bars;
- `quiet` — nothing (the `build` command prints the image id itself);
- `auto` — `tty` when the stream is a terminal, else `plain`.
"""

from __future__ import annotations

import json
import os
import sys
import threading
import time
from dataclasses import dataclass, field
from typing import IO, Any

from builder.units import decimal_size

MODES = ("auto", "plain", "tty", "json", "quiet")
SCHEMA_VERSION = 1


class Progress:
    """The event API. The base class records nothing and shows nothing (`quiet`)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._next = 0

    def new_id(self) -> int:
        with self._lock:
            self._next += 1
            return self._next

    def step_started(
        self, vid: int, stage: str, position: str, text: str, reason: str | None = None
    ) -> None:
        pass

    def step_cached(self, vid: int) -> None:
        pass

    def step_log(self, vid: int, line: str) -> None:
        pass

    def step_done(self, vid: int, duration: float) -> None:
        pass

    def step_error(self, vid: int, message: str) -> None:
        pass

    def transfer(self, vid: int, name: str, current: int, total: int | None) -> None:
        pass

    def message(self, text: str) -> None:
        pass

    def cache_report(self, text: str, data: dict[str, Any]) -> None:
        """The end-of-build cache summary (builder.inspect.cache_report)."""
        self.message(text)

    def finish(self, image_id: str = "") -> None:
        pass


def step_label(stage: str, position: str, text: str) -> str:
    """`[builder 2/4] RUN make`, as BuildKit names a vertex."""
    prefix = f"{stage} " if stage else ""
    return f"[{prefix}{position}] {text}" if position else text


def _fmt_duration(seconds: float) -> str:
    return f"{seconds:.1f}s"


class PlainProgress(Progress):
    """BuildKit's `--progress=plain` lines, written as they happen."""

    def __init__(self, stream: IO[str]) -> None:
        super().__init__()
        self._out = stream
        self._started: dict[int, float] = {}
        self._cached: set[int] = set()
        self._said_cached: set[int] = set()  # "CACHED (from registry ...)" as the reason

    def _write(self, text: str) -> None:
        with self._lock:
            self._out.write(text + "\n")
            self._out.flush()

    def step_started(self, vid, stage, position, text, reason=None):
        self._started[vid] = time.monotonic()
        self._write(f"#{vid} {step_label(stage, position, text)}")
        if reason:
            self._write(f"#{vid} {reason}")
            if reason.startswith("CACHED"):
                self._said_cached.add(vid)

    def step_cached(self, vid):
        self._cached.add(vid)
        if vid not in self._said_cached:  # once per step, with the source when it has one
            self._write(f"#{vid} CACHED")

    def step_log(self, vid, line):
        elapsed = time.monotonic() - self._started.get(vid, time.monotonic())
        self._write(f"#{vid} {elapsed:.3f} {line.rstrip()}")

    def step_done(self, vid, duration):
        if vid not in self._cached:  # BuildKit prints CACHED instead of DONE
            self._write(f"#{vid} DONE {_fmt_duration(duration)}")

    def step_error(self, vid, message):
        self._write(f"#{vid} ERROR: {message}")

    def transfer(self, vid, name, current, total):
        if total is not None and current >= total:
            self._write(f"#{vid} {name} {_human(current)} done")

    def message(self, text):
        self._write(text)


class JsonProgress(Progress):
    """One JSON event per line (schema in the module docstring)."""

    def __init__(self, stream: IO[str]) -> None:
        super().__init__()
        self._out = stream
        self._started: dict[int, float] = {}

    def _emit(self, event: str, **fields: Any) -> None:
        obj = {"v": SCHEMA_VERSION, "time": round(time.time(), 6), "event": event, **fields}
        line = json.dumps(obj, separators=(",", ":"), ensure_ascii=False)
        with self._lock:
            self._out.write(line + "\n")
            self._out.flush()

    def step_started(self, vid, stage, position, text, reason=None):
        self._started[vid] = time.monotonic()
        self._emit("step_started", id=vid, stage=stage, position=position, text=text, reason=reason)

    def step_cached(self, vid):
        self._emit("step_cached", id=vid)

    def step_log(self, vid, line):
        elapsed = time.monotonic() - self._started.get(vid, time.monotonic())
        self._emit("step_log", id=vid, line=line.rstrip("\n"), elapsed=round(elapsed, 3))

    def step_done(self, vid, duration):
        self._emit("step_done", id=vid, duration=round(duration, 3))

    def step_error(self, vid, message):
        self._emit("step_error", id=vid, message=message)

    def transfer(self, vid, name, current, total):
        self._emit("transfer", id=vid, name=name, current=current, total=total)

    def message(self, text):
        self._emit("message", text=text)

    def cache_report(self, text, data):
        self._emit("cache_report", report=data)

    def finish(self, image_id=""):
        self._emit("finish", image_id=image_id)


@dataclass
class _Row:
    """One step's line in the tty view: its label, why it ran, state and last output."""

    label: str
    reason: str | None = None
    started: float = field(default_factory=time.monotonic)
    state: str = "running"  # running | cached | done | error
    duration: float = 0.0
    tail: list[str] = field(default_factory=list)
    transfers: dict[str, tuple[int, int | None]] = field(default_factory=dict)
    spans: dict[str, list[float]] = field(default_factory=dict)  # name -> [start, end]


class TtyProgress(Progress):
    """A live view with rich: timers, CACHED marks, reasons, output tails, bars."""

    TAIL = 6

    def __init__(self, stream: IO[str]) -> None:
        super().__init__()
        from rich.console import Console
        from rich.live import Live

        self._console = Console(file=stream, force_terminal=True)
        self._rows: dict[int, _Row] = {}
        self._notes: list[str] = []
        self._t0 = time.monotonic()
        self._live = Live(
            console=self._console,
            refresh_per_second=8,
            transient=False,
            get_renderable=self._render,
        )
        self._live.start()

    def _render(self) -> Any:
        from rich.console import Group
        from rich.progress_bar import ProgressBar
        from rich.text import Text

        with self._lock:
            rows = list(self._rows.items())
            notes = list(self._notes)
        parts: list[Any] = [Text(f"[+] Building {time.monotonic() - self._t0:.1f}s", style="bold")]
        for vid, r in rows:
            t = r.duration if r.state != "running" else time.monotonic() - r.started
            mark = {"cached": " CACHED", "error": " ERROR"}.get(r.state, "")
            style = {"running": "cyan", "error": "red", "cached": "dim"}.get(r.state, "")
            line = Text(f" => {mark.strip() + ' ' if mark else ''}#{vid} {r.label}", style=style)
            line.append(f"  {t:.1f}s", style="dim")
            if r.reason and r.state != "cached":
                line.append(f"  ({r.reason})", style="yellow")
            parts.append(line)
            for name, (cur, total) in r.transfers.items():
                parts.append(
                    Text(
                        f"    {name} {_human(cur)}"
                        + (f"/{_human(total)}" if total else "")
                        + _rate_eta(cur, total, r.spans.get(name)),
                        style="dim",
                    )
                )
                if total:
                    parts.append(ProgressBar(total=total, completed=cur, width=40))
            if r.state == "running" or r.state == "error":
                for tl in r.tail[-self.TAIL :]:
                    parts.append(Text(f"    {tl}", style="dim"))
        parts.extend(Text(n) for n in notes)
        return Group(*parts)

    def step_started(self, vid, stage, position, text, reason=None):
        with self._lock:
            self._rows[vid] = _Row(step_label(stage, position, text), reason)

    def _row(self, vid: int) -> _Row:
        return self._rows.setdefault(vid, _Row(f"#{vid}"))

    def step_cached(self, vid):
        with self._lock:
            self._row(vid).state = "cached"

    def step_log(self, vid, line):
        with self._lock:
            tail = self._row(vid).tail
            tail.append(line.rstrip())
            del tail[: -self.TAIL]

    def step_done(self, vid, duration):
        with self._lock:
            r = self._row(vid)
            if r.state == "running":
                r.state = "done"
            r.duration = duration

    def step_error(self, vid, message):
        with self._lock:
            r = self._row(vid)
            r.state, r.duration = "error", time.monotonic() - r.started
            r.tail.append(message)

    def transfer(self, vid, name, current, total):
        with self._lock:
            r = self._row(vid)
            r.transfers[name] = (current, total)
            now = time.monotonic()
            span = r.spans.setdefault(name, [now, 0.0])
            span[1] = now if total is not None and current >= total else 0.0

    def message(self, text):
        with self._lock:
            self._notes.append(text)

    def finish(self, image_id=""):
        self._live.refresh()
        self._live.stop()


def _rate_eta(cur: int, total: int | None, span: list[float] | None) -> str:
    """`  1.20MB/s  ETA 3s` while moving, `  1.20MB/s` once done (the average)."""
    if not span:
        return ""
    elapsed = (span[1] or time.monotonic()) - span[0]
    if elapsed < 0.001 or cur <= 0:
        return ""
    rate = cur / elapsed
    text = f"  {_human(int(rate))}/s"
    if total and not span[1] and cur < total:
        text += f"  ETA {max(0, round((total - cur) / rate))}s"
    return text


def _human(n: int) -> str:
    return decimal_size(n, ".2f", units=("kB", "MB", "GB"))


def make_progress(mode: str, stream: IO[str] | None = None) -> Progress:
    """The renderer for `--progress MODE` writing to `stream` (stderr by default)."""
    out = stream if stream is not None else sys.stderr
    if mode == "auto":
        # a dumb terminal cannot redraw a live view (rich draws only the end of it)
        live = hasattr(out, "isatty") and out.isatty() and os.environ.get("TERM") != "dumb"
        mode = "tty" if live else "plain"
    if mode == "plain":
        return PlainProgress(out)
    if mode == "json":
        return JsonProgress(out)
    if mode == "tty":
        return TtyProgress(out)
    if mode == "quiet":
        return Progress()
    raise ValueError(f"unknown progress mode {mode!r}: want one of {', '.join(MODES)}")
