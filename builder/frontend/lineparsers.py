"""BuildKit's per-keyword line parsers (parser/line_parsers.go, split_command.go): how
the argument text of one logical line becomes the node's arguments.

Public API (stable): `parse_json_array(text)`, `parse_words(text, escape)`,
`dispatch(keyword, rest, span, escape) -> (args, is_json)`, `flag_text(word)`,
`strip(text)` (Go's TrimSpace), `lstrip(text)`, `LineError`; heredocs: `Heredoc`,
`parse_heredoc(word)`, `heredocs_from_line(line)`, `chomp(text)`.
"""

from __future__ import annotations

import json
import re

from builder.errors import DockerfileError, Span
from builder.frontend.expand import ExpansionError, Lexer, is_space
from builder.frontend.heredoc import Heredoc as Heredoc  # re-exported
from builder.frontend.heredoc import chomp as chomp  # re-exported
from builder.gofmt import quote as go_quote

_WS_SPLIT = re.compile(r"[\t\v\f\r ]+")
_HEREDOC = re.compile(r"^(\d*)<<(-?)[ \t\n\f\r]*([^<]*)\Z")
NOT_STRING_ARRAY = "when using JSON array syntax, arrays must be comprised of strings only"


def strip(s: str) -> str:
    """Go's strings.TrimSpace (unicode.IsSpace at both ends)."""
    i, j = 0, len(s)
    while i < j and is_space(s[i]):
        i += 1
    while j > i and is_space(s[j - 1]):
        j -= 1
    return s[i:j]


def lstrip(s: str) -> str:
    """Go's strings.TrimLeftFunc(s, unicode.IsSpace)."""
    i = 0
    while i < len(s) and is_space(s[i]):
        i += 1
    return s[i:]


def flag_text(word: str) -> str:
    """Quotes and backslashes out of a flag word, as extractBuilderFlags does."""
    if not any(c in word for c in "\"'\\"):
        return word
    out, quote, i = [], "", 0
    while i < len(word):
        ch = word[i]
        i += 1
        if quote and ch == quote:
            quote = ""
            continue
        if not quote and ch in "'\"":
            quote = ch
            continue
        if ch == "\\":
            if i == len(word):
                continue
            ch = word[i]
            i += 1
        out.append(ch)
    return "".join(out)


class LineError(Exception):
    """(message, span, instruction) raised by a line parser, rendered by the caller."""


def _split_ws(rest: str) -> list[str]:
    return _WS_SPLIT.split(rest) if rest else []


def parse_json_array(rest: str) -> list[str] | None:
    """The strings of a JSON array, None when `rest` is not JSON (shell form);
    ValueError(NOT_STRING_ARRAY) for an array holding anything but strings."""
    rest = lstrip(rest)
    if not rest.startswith("["):
        return None
    try:
        value, _end = json.JSONDecoder(parse_constant=_no_constant).raw_decode(rest)
    except (ValueError, RecursionError):
        return None
    if not isinstance(value, list):
        return None
    if not all(isinstance(v, str) for v in value):
        raise ValueError(NOT_STRING_ARRAY)
    return [v.encode("utf-8", "replace").decode("utf-8") for v in value]


def _no_constant(name: str) -> None:
    raise ValueError(name)


def parse_words(rest: str, escape: str = "\\") -> list[str]:
    """Quote-aware split that keeps quotes and escapes (BuildKit parseWords)."""
    words: list[str] = []
    word, quote, blank_ok, in_word = [], "", False, False
    i, n = 0, len(rest)
    while i < n:
        ch = rest[i]
        if not in_word and not quote:
            if is_space(ch):
                i += 1
                continue
            in_word = True
        if quote:
            if ch == quote:
                quote = ""
            elif ch == escape and quote != "'":
                if i + 1 == n:
                    i += 1
                    continue
                word.append(ch)
                i += 1
                ch = rest[i]
            word.append(ch)
        elif is_space(ch):
            if blank_ok or word:
                words.append("".join(word))
            word, blank_ok, in_word = [], False, False
        else:
            if ch in "'\"":
                quote, blank_ok = ch, True
            if ch == escape:
                if i + 1 == n:
                    i += 1
                    continue
                word.append(ch)
                i += 1
                ch = rest[i]
            word.append(ch)
        i += 1
    if in_word and (blank_ok or word):
        words.append("".join(word))
    return words


def _name_val(keyword: str, rest: str, span: Span, escape: str) -> list[str]:
    words = parse_words(rest, escape)
    if not words:
        return []
    if "=" not in words[0]:
        parts = _WS_SPLIT.split(rest, 1)
        if len(parts) < 2:
            raise LineError(f"{keyword.upper()} must have two arguments", span, keyword.upper())
        return [parts[0], parts[1], ""]
    args: list[str] = []
    for word in words:
        if "=" not in word:
            raise LineError(
                f"Syntax error - can't find = in {go_quote(word)}. Must be of the form: name=value",
                span,
                keyword.upper(),
            )
        k, v = word.split("=", 1)
        args += [k, v, "="]
    return args


def _maybe_json(rest: str, span: Span, keyword: str, to_list: bool) -> tuple[list[str], bool]:
    try:
        arr = parse_json_array(rest)
    except ValueError as e:
        raise LineError(str(e), span, keyword.upper()) from None
    if arr is not None:
        return arr, True
    if to_list:
        return _split_ws(rest), False
    return ([rest] if rest else []), False


def dispatch(keyword: str, rest: str, span: Span, escape: str) -> tuple[list[str], bool]:
    if keyword in ("add", "copy", "volume"):
        return _maybe_json(rest, span, keyword, True)
    if keyword in ("run", "cmd", "entrypoint", "shell"):
        return _maybe_json(rest, span, keyword, False)
    if keyword in ("from", "expose"):
        return _split_ws(rest), False
    if keyword in ("env", "label"):
        return _name_val(keyword, rest, span, escape), False
    if keyword == "arg":
        return parse_words(rest, escape), False
    if keyword in ("maintainer", "user", "workdir", "stopsignal"):
        return ([rest] if rest else []), False
    if keyword == "healthcheck":
        m = re.match(r"(\S*)\s*", rest)
        assert m is not None  # both parts may be empty, so it matches any text
        typ, cmd = m.group(1), rest[m.end() :]
        if not typ:
            return [], False
        args, is_json = _maybe_json(cmd, span, keyword, False)
        return [typ, *args], is_json
    return [], False


# --- heredocs (parser.go: ParseHeredoc, heredocsFromLine, ChompHeredocContent) ---


def parse_heredoc(word: str) -> Heredoc | None:
    """A heredoc marker such as `<<-'EOF'` or `3<<EOF`, or None; error on bad quoting."""
    m = _HEREDOC.match(word)
    if not m or not m.group(3):
        return None
    rest = m.group(3)
    try:
        words = Lexer(skip_unset=True).process(rest, {}).words
        if len(words) != 1:
            return None
        raw = Lexer(skip_unset=True, raw_quotes=True).process(rest, {}).words
    except ExpansionError as e:
        raise DockerfileError(str(e).split(": ", 1)[-1]) from None
    quotes = words[0].count("'") + words[0].count('"')
    raw_quotes = raw[0].count("'") + raw[0].count('"')
    return Heredoc(words[0], "", m.group(2) == "-", quotes == raw_quotes, int(m.group(1) or 0))


def heredocs_from_line(line: str) -> list[Heredoc]:
    lexer = Lexer(raw_quotes=True, raw_escapes=True, skip_unset=True)
    try:
        words = lexer.process(line, {}).words
    except ExpansionError:
        return []
    return [h for h in map(parse_heredoc, words) if h is not None]
