"""Go's fmt verbs as BuildKit's strings use them, byte for byte: `%q` of a string
(strconv.Quote), of an int (QuoteRune) and of a []string, `%v` of slices and sets,
and time.Duration.String(). History `created_by`, the parser dump and error texts
all quote through here."""

from __future__ import annotations

from collections.abc import Iterable


def quote(s: str) -> str:
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


_ESCAPES = {
    "\a": "\\a",
    "\b": "\\b",
    "\f": "\\f",
    "\n": "\\n",
    "\r": "\\r",
    "\t": "\\t",
    "\v": "\\v",
    "\\": "\\\\",
}


# strconv.Quote escapes the double quote as well; QuoteRune does not
_SIMPLE = {**_ESCAPES, '"': '\\"'}


def _printable(ch: str) -> bool:
    if ch == " ":
        return True
    if " " < ch < "\x7f":  # printable ASCII: no need for unicodedata (~1 ms to import)
        return True
    import unicodedata

    return unicodedata.category(ch)[0] not in ("C", "Z")


def _escape_code(cp: int) -> str:
    if cp < 0x80:
        return f"\\x{cp:02x}"
    if cp < 0x10000:
        return f"\\u{cp:04x}"
    return f"\\U{cp:08x}"


def quote_rune(n: int) -> str:
    """strconv.QuoteRune, which `%q` applies to an int."""
    ch = chr(n)
    if ch == "'":
        return "'\\''"
    if ch in _ESCAPES:
        return f"'{_ESCAPES[ch]}'"
    if _printable(ch):
        return f"'{ch}'"
    return f"'{_escape_code(n)}'"


def quote_list(items: Iterable[str]) -> str:
    """`%q` of a []string: `["a" "b"]`."""
    return "[" + " ".join(quote(s) for s in items) + "]"


def v_list(items: Iterable[str]) -> str:
    """`%v` of a []string: `[a b]`."""
    return "[" + " ".join(items) + "]"


def v_set(keys: Iterable[str]) -> str:
    """`%v` of a map[string]struct{}: `map[a:{} b:{}]` (fmt sorts the keys)."""
    return "map[" + " ".join(f"{k}:{{}}" for k in sorted(keys)) + "]"


def duration(ns: int) -> str:
    """time.Duration(ns).String(): `0s`, `1.5s`, `5m0s`, `1h0m0s`, `500ms`, `2µs`."""
    if ns == 0:
        return "0s"
    neg = ns < 0
    u = -ns if neg else ns
    sign = "-" if neg else ""
    if u < 1_000_000_000:
        for unit, size in (("ns", 1), ("µs", 1_000), ("ms", 1_000_000)):
            if u < size * 1000:
                return sign + _frac(u, size) + unit
    secs_total, frac = divmod(u, 1_000_000_000)
    h, rem = divmod(secs_total, 3600)
    m, s = divmod(rem, 60)
    sec = _frac(s * 1_000_000_000 + frac, 1_000_000_000) + "s"
    if h:
        return f"{sign}{h}h{m}m{sec}"
    if m:
        return f"{sign}{m}m{sec}"
    return sign + sec


def _frac(value: int, size: int) -> str:
    whole, rest = divmod(value, size)
    if not rest:
        return str(whole)
    digits = len(str(size)) - 1
    return f"{whole}." + f"{rest:0{digits}d}".rstrip("0")
