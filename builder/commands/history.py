"""`pybuild history IMAGE`: the image's history, newest first, as `docker history`
prints it (IMAGE, CREATED, CREATED BY, SIZE, COMMENT), plus the Dockerfile LINE when
the image records it. Sizes are the layers' file bytes, read by streaming each layer."""

from __future__ import annotations

import argparse
import json
import sys
from datetime import UTC, datetime
from typing import TYPE_CHECKING

from builder.units import decimal_size

if TYPE_CHECKING:  # for the checker: defining a TypedDict costs import time
    from typing import TypedDict

    class _Row(TypedDict):
        """One history row as printed (and as `--json` writes it)."""

        id: str
        created: str
        created_by: str
        size: int
        comment: str
        line: int | None


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "image",
        help="image name, oci:DIR, oci-archive:FILE, docker-archive:FILE or a registry reference",
    )
    parser.add_argument("--no-trunc", action="store_true", help="do not truncate output")
    parser.add_argument("-q", "--quiet", action="store_true", help="only show image IDs")
    parser.add_argument(
        "-H",
        "--human",
        default="true",
        choices=("true", "false"),
        help="print sizes and dates in human readable format (default true)",
    )
    parser.add_argument("--json", action="store_true", help="print the rows as JSON")


def ago(created: str, now: datetime | None = None) -> str:
    if not created:
        return "N/A"
    try:
        t = datetime.fromisoformat(created.replace("Z", "+00:00"))
    except ValueError:
        return created
    if t.tzinfo is None:
        t = t.replace(tzinfo=UTC)
    s = int(((now or datetime.now(UTC)) - t).total_seconds())
    for unit, n in (
        ("year", 365 * 86400),
        ("month", 30 * 86400),
        ("week", 7 * 86400),
        ("day", 86400),
        ("hour", 3600),
        ("minute", 60),
    ):
        if s >= n:
            k = s // n
            return f"{k} {unit}{'s' if k != 1 else ''} ago"
    return "Less than a second ago" if s < 1 else f"{s} seconds ago"


def run(args: argparse.Namespace) -> int:
    from builder.inspect.errors import SourceError
    from builder.inspect.history import HistoryRow, history_rows
    from builder.inspect.sources import open_source
    from builder.inspect.tarscan import TarScan

    try:
        source = open_source(args.image)
    except SourceError as e:  # name this verb, not inspect
        e.args = (f"history {e.source}: {e.why}",)
        raise
    with source as src:
        sizes = []
        layers = src.image.layers()
        for b in layers:
            with b.compressed() as f:
                sizes.append(sum(e.size for e in TarScan(f, data=False) if e.is_file))
        rows = history_rows(src.config(), len(layers))
        image_id = src.config_digest
    if not rows:  # an image without history: one row per layer, as docker shows it
        rows = [HistoryRow(i, "", "", "", False, i, None, None, "") for i in range(len(sizes))]
    out: list[_Row] = []
    for r in reversed(rows):
        size = sizes[r.layer] if r.layer is not None and r.layer < len(sizes) else 0
        out.append(
            {
                "id": image_id if r is rows[-1] else "<missing>",
                "created": r.created,
                "created_by": r.created_by,
                "size": size,
                "comment": r.comment,
                "line": r.line,
            }
        )
    if args.json:
        json.dump(out, sys.stdout, indent=2)
        sys.stdout.write("\n")
        return 0
    if args.quiet:
        for o in out:
            print(
                o["id"]
                if args.no_trunc or o["id"] == "<missing>"
                else o["id"].removeprefix("sha256:")[:12]
            )
        return 0
    human = args.human == "true"
    table = []
    for o in out:
        ident = (
            o["id"]
            if args.no_trunc or o["id"] == "<missing>"
            else o["id"].removeprefix("sha256:")[:12]
        )
        cb = " ".join(o["created_by"].split()) if not args.no_trunc else o["created_by"]
        if not args.no_trunc and len(cb) > 45:
            cb = cb[:44] + "…"
        table.append(
            (
                ident,
                ago(o["created"]) if human else o["created"] or "N/A",
                cb,
                decimal_size(o["size"]) if human else str(o["size"]),
                o["comment"],
                str(o["line"] or ""),
            )
        )
    head = ("IMAGE", "CREATED", "CREATED BY", "SIZE", "COMMENT", "LINE")
    widths = [
        max(len(h), *(len(t[i]) for t in table)) if table else len(h) for i, h in enumerate(head)
    ]
    for t in [head, *table]:
        print("   ".join(c.ljust(w) for c, w in zip(t, widths, strict=True)).rstrip())
    return 0
