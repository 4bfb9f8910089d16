"""The terminal view of an `Analysis` (rich): one row per layer with a size bar, the
Dockerfile line and created_by; then waste, the top wasted paths and the pitfalls,
each with its fix as a before/after snippet. Works without a tty (plain text)."""

from __future__ import annotations

import sys
from typing import IO

from rich.console import Console
from rich.table import Table
from rich.text import Text

from builder.inspect.analyze import Analysis
from builder.inspect.dive import percent_text
from builder.inspect.pitfalls.base import counted, human, steps_text

BAR_WIDTH = 20


def bar(value: int, biggest: int, width: int = BAR_WIDTH) -> str:
    """A size bar of `width` cells with eighth-block precision."""
    if biggest <= 0 or value <= 0:
        return ""
    eighths = max(1, round(8 * width * value / biggest))
    full, rest = divmod(eighths, 8)
    return "█" * full + (" ▏▎▍▌▋▊▉"[rest] if rest else "")


def _clip(text: str, width: int) -> str:
    return text if len(text) <= width else text[: width - 1] + "…"


def render(
    a: Analysis, *, color: bool = False, out: IO[str] | None = None, width: int | None = None
) -> None:
    con = Console(
        file=out or sys.stdout,
        no_color=not color,
        highlight=False,
        force_terminal=color,
        width=width or (None if color else 120),
        soft_wrap=False,
    )
    con.print(Text.assemble(("Image ", "bold"), a.image, "  ", (a.manifest_digest[:19], "dim")))
    con.print(
        f"{len(a.layers)} layers, {human(a.size)} compressed, "
        f"{human(a.uncompressed_size)} uncompressed"
        + (f", lines from {a.line_source}" if a.line_source != "none" else "")
    )
    biggest = max((x.uncompressed_size for x in a.layers), default=0)
    t = Table(show_edge=False, pad_edge=False, box=None, header_style="bold")
    widths = {
        "#": 2,
        "size": 8,
        "uncompr.": 8,
        "": BAR_WIDTH + 1,
        "+add": 4,
        "~mod": 4,
        "-del": 4,
        "line": 4,
    }
    for name, min_width in widths.items():
        t.add_column(
            name, justify="left" if not name else "right", no_wrap=True, min_width=min_width
        )
    cb_width = max(20, con.width - sum(widths.values()) - 2 * len(widths) - 1)
    t.add_column("created by", no_wrap=True, max_width=cb_width)
    for x in a.layers:
        line = "base" if x.base else (str(x.line) if x.line else "-")
        t.add_row(
            str(x.index),
            human(x.size),
            human(x.uncompressed_size),
            Text(
                bar(x.uncompressed_size, biggest).ljust(BAR_WIDTH),
                style="dim" if x.base else "cyan",
            ),
            str(x.added),
            str(x.modified),
            str(x.deleted),
            line,
            _clip(" ".join(x.created_by.removesuffix(" # buildkit").split()), cb_width),
        )
    con.print(t)
    w = a.waste
    con.print()
    con.print(
        Text.assemble(
            ("Waste ", "bold"),
            f"{human(w.reclaimable_bytes)} a rewrite would not store "
            f"({w.reclaimable_percent:.2f} % of what the Dockerfile added; base image: "
            f"{counted(w.base_layers, 'layer')}); dive: {human(w.wasted_bytes)} wasted, "
            f"efficiency {100 * w.efficiency:.2f} %, user wasted {percent_text(w.user_wasted_percent)}",
        )
    )
    if w.top:
        wt = Table(show_edge=False, pad_edge=False, box=None, header_style="bold")
        wt.add_column("reclaimable", justify="right")
        wt.add_column("path", overflow="fold")
        wt.add_column("layers")
        for p in w.top:
            wt.add_row(
                human(p.reclaimable_bytes),
                "/" + p.path + (" (deleted)" if p.deleted else ""),
                ",".join(map(str, p.layers)),
            )
        con.print(wt)
    con.print()
    if not a.pitfalls:
        con.print(Text("No pitfalls found.", style="green"))
        return
    con.print(Text(f"Pitfalls ({len(a.pitfalls)})", style="bold"))
    for f in a.pitfalls:
        where = (
            ("line " if len(f.lines) == 1 else "lines ") + ", ".join(map(str, f.lines))
            if f.lines
            else "line unknown"
        )
        cost = human(f.bytes) if f.bytes else ""
        if f.steps:
            cost += (", " if cost else "") + steps_text(f.id, f.steps)
        con.print(
            Text.assemble(
                ("● ", "yellow"),
                (f"[{f.id}] ", "bold yellow"),
                f.title,
                (f" — {where}" + (f" — {cost}" if cost else ""), "dim"),
            )
        )
        con.print(f"    {f.detail}")
        con.print(Text.assemble("    fix: ", (f.fix.summary, "green")))
        for label, snippet, style in (
            ("before", f.fix.before, "red"),
            ("after ", f.fix.after, "green"),
        ):
            for i, ln in enumerate(snippet.splitlines()):
                con.print(Text.assemble(f"      {label if i == 0 else '      '} │ ", (ln, style)))
