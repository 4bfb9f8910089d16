"""BuildKit's AST dump format (`parser.Node.Dump()`), used by the parser goldens.

Public API (stable):
- `go_quote(s) -> str`: Go's `strconv.Quote`.
- `dump_node(node) -> str`: one instruction as `(keyword ["--flag"] "arg" ...)`
  without the outer parentheses' newline.
- `dump(dockerfile) -> str`: every instruction, one per line, each wrapped in
  parentheses, ending in a newline — byte-for-byte what `buildkit-parser/testfiles/*/result`
  holds.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from builder.syntax import Dockerfile, Node

_SIMPLE = {"\a": "\\a", "\b": "\\b", "\f": "\\f", "\n": "\\n", "\r": "\\r", "\t": "\\t",
           "\v": "\\v", "\\": "\\\\", '"': '\\"'}


def go_quote(s: str) -> str:
    """Quote like Go's strconv.Quote: printable Unicode stays, the rest is escaped."""
    if s.isascii() and s.isprintable() and '"' not in s and "\\" not in s:
        return f'"{s}"'
    out = ['"']
    for ch in s:
        esc = _SIMPLE.get(ch)
        if esc is not None:
            out.append(esc)
        elif ch == " " or ch.isprintable():
            if 0xD800 <= ord(ch) <= 0xDFFF:
                out.append("\\ufffd")
            else:
                out.append(ch)
        else:
            o = ord(ch)
            if o < 0x20 or o == 0x7F:
                out.append(f"\\x{o:02x}")
            elif 0xD800 <= o <= 0xDFFF:
                out.append("\\ufffd")
            elif o < 0x10000:
                out.append(f"\\u{o:04x}")
            else:
                out.append(f"\\U{o:08x}")
    out.append('"')
    return "".join(out)


def dump_node(node: Node) -> str:
    parts = [node.keyword]
    if node.flags:
        parts.append("[" + " ".join(go_quote(f) for f in node.flags) + "]")
    parts.extend(go_quote(a) for a in node.args)
    if node.sub is not None:
        parts.append("(" + dump_node(node.sub) + ")")
    return " ".join(p for p in parts if p)


def dump(dockerfile: Dockerfile) -> str:
    return "".join(f"({dump_node(n)})\n" for n in dockerfile.nodes)
