"""A self-contained HTML report of an `Analysis`: inline CSS, an inline SVG layer-size
chart (`#layer-chart`), the layer table, the waste table and the pitfalls with their
fixes. No scripts, fonts or images are fetched: it opens offline in any browser."""

from __future__ import annotations

import html
from pathlib import Path

from builder.inspect.analyze import Analysis
from builder.inspect.dive import percent_text
from builder.inspect.pitfalls.base import human, steps_text

CSS = """
body{font:14px/1.45 system-ui,-apple-system,Segoe UI,Roboto,sans-serif;margin:2em auto;
max-width:1100px;color:#1d2733;padding:0 1em}
h1{font-size:1.4em;margin:0 0 .2em}h2{font-size:1.15em;margin:1.6em 0 .5em;border-bottom:1px solid #dde3ea}
.meta{color:#5a6978}.num{text-align:right;font-variant-numeric:tabular-nums}
table{border-collapse:collapse;width:100%}td,th{padding:3px 8px;border-bottom:1px solid #eef1f5;
vertical-align:top}th{text-align:left;background:#f6f8fa}
code,pre{font:12.5px/1.4 ui-monospace,SFMono-Regular,Menlo,Consolas,monospace}
.cb{max-width:520px;overflow:hidden;text-overflow:ellipsis;white-space:nowrap}
#layer-chart{display:block;width:100%;height:auto;background:#fbfcfd;border:1px solid #e4e8ee}
.pit{border:1px solid #e4e8ee;border-left:4px solid #e0a800;padding:.6em 1em;margin:.8em 0}
.pit h3{margin:0 0 .3em;font-size:1.02em}.pit .id{color:#9a6b00;font-family:ui-monospace,monospace}
.fix{display:grid;grid-template-columns:1fr 1fr;gap:.8em}
.fix pre{margin:0;padding:.5em;overflow:auto;border-radius:4px;white-space:pre-wrap}
.fix .lab{font-size:.8em;color:#5a6978;margin-bottom:.2em}
.before{background:#fdecec}.after{background:#e9f7ee}
.score{display:inline-block;margin-right:2em}.score b{font-size:1.3em}
"""


def _e(s: object) -> str:
    return html.escape(str(s), quote=True)


def chart_svg(a: Analysis) -> str:
    n = max(1, len(a.layers))
    row, label_w, width = 22, 150, 1000
    height = 20 + row * n
    biggest = max((x.uncompressed_size for x in a.layers), default=0) or 1
    parts = [
        f'<svg id="layer-chart" xmlns="http://www.w3.org/2000/svg" role="img" '
        f'viewBox="0 0 {width} {height}" width="{width}" height="{height}" '
        f'aria-label="layer sizes">'
    ]
    for i, x in enumerate(a.layers):
        y = 10 + i * row
        w = max(1.0, (width - label_w - 130) * x.uncompressed_size / biggest)
        fill = "#9aa7b5" if x.base else "#2f7dd1"
        label = f"#{x.index} " + ("base" if x.base else f"line {x.line}" if x.line else "")
        parts.append(
            f'<text x="4" y="{y + 15}" font-size="13" font-family="sans-serif">{_e(label)}</text>'
        )
        parts.append(
            f'<rect class="bar" x="{label_w}" y="{y + 3}" width="{w:.1f}" height="{row - 6}" '
            f'fill="{fill}"><title>{_e(x.created_by)}</title></rect>'
        )
        parts.append(
            f'<text x="{label_w + w + 6:.1f}" y="{y + 15}" font-size="12" '
            f'font-family="sans-serif" fill="#5a6978">{_e(human(x.uncompressed_size))}'
            f"</text>"
        )
    parts.append("</svg>")
    return "".join(parts)


def render_html(a: Analysis) -> str:
    w = a.waste
    out = [
        '<!DOCTYPE html><html lang="en"><head><meta charset="utf-8">',
        f"<title>pybuild inspect {_e(a.image)}</title><style>{CSS}</style></head><body>",
        f'<h1>{_e(a.image)}</h1><div class="meta">{_e(a.manifest_digest)} · '
        f"{len(a.layers)} layers · {_e(human(a.size))} compressed · "
        f"{_e(human(a.uncompressed_size))} uncompressed</div>",
        "<h2>Scores</h2>",
        f'<div class="score">reclaimable <b>{_e(human(w.reclaimable_bytes))}</b> '
        f"({w.reclaimable_percent:.2f} % of what the Dockerfile added)</div>",
        f'<div class="score">dive efficiency <b>{100 * w.efficiency:.2f} %</b></div>',
        f'<div class="score">dive wasted <b>{_e(human(w.wasted_bytes))}</b></div>',
        f'<div class="score">dive user wasted <b>{percent_text(w.user_wasted_percent)}</b></div>',
        "<h2>Layer sizes</h2>",
        chart_svg(a),
        '<table id="layers"><tr><th>#</th><th class=num>size</th><th class=num>uncompressed'
        "</th><th class=num>added</th><th class=num>modified</th><th class=num>deleted</th>"
        "<th>line</th><th>created by</th></tr>",
    ]
    for x in a.layers:
        line = "base" if x.base else (x.line or "")
        out.append(
            f"<tr><td>{x.index}</td><td class=num>{_e(human(x.size))}</td>"
            f"<td class=num>{_e(human(x.uncompressed_size))}</td><td class=num>{x.added}"
            f"</td><td class=num>{x.modified}</td><td class=num>{x.deleted}</td>"
            f'<td>{_e(line)}</td><td class=cb title="{_e(x.created_by)}"><code>'
            f"{_e(x.created_by)}</code></td></tr>"
        )
    out.append("</table><h2>Reclaimable space</h2>")
    if w.top:
        out.append(
            '<table id="waste"><tr><th class=num>reclaimable</th><th>path</th><th>layers</th>'
            "<th>state</th></tr>"
        )
        for p in w.top:
            out.append(
                f"<tr><td class=num>{_e(human(p.reclaimable_bytes))}</td><td><code>/"
                f"{_e(p.path)}</code></td><td>{_e(', '.join(map(str, p.layers)))}</td>"
                f"<td>{'deleted' if p.deleted else 'overwritten'}</td></tr>"
            )
        out.append("</table>")
    else:
        out.append('<p id="waste">Nothing to reclaim.</p>')
    out.append(f"<h2>Pitfalls ({len(a.pitfalls)})</h2>")
    if not a.pitfalls:
        out.append("<p>No pitfalls found.</p>")
    for f in a.pitfalls:
        cost = [human(f.bytes)] if f.bytes else []
        if f.steps:
            cost.append(steps_text(f.id, f.steps))
        lines = ", ".join(map(str, f.lines)) or "unknown"
        out.append(
            f'<div class="pit"><h3><span class=id>[{_e(f.id)}]</span> {_e(f.title)}</h3>'
            f"<div class=meta>lines {_e(lines)}{' · ' + _e(', '.join(cost)) if cost else ''}"
            f"</div><p>{_e(f.detail)}</p><p><b>Fix:</b> {_e(f.fix.summary)}</p>"
            f"<div class=fix><div><div class=lab>before</div><pre class=before>"
            f"{_e(f.fix.before)}</pre></div><div><div class=lab>after</div>"
            f"<pre class=after>{_e(f.fix.after)}</pre></div></div></div>"
        )
    out.append("</body></html>\n")
    return "".join(out)


def write_html(a: Analysis, path: str | Path) -> None:
    Path(path).write_text(render_html(a), encoding="utf-8")
