"""Pieces of BuildKit's shell lexer (lex.go) used by `builder.frontend.expand`: Go's
`unicode.IsSpace`, the word accumulator of `ProcessWords`, and the shell wildcard
patterns of `${V#p}`, `${V%p}` and `${V/p/r}` (`*`, `?` and `\\` escapes, no
brackets) as Python regexes."""

from __future__ import annotations

import re

from builder.frontend.expand.errors import ExpansionError

# Go's unicode.IsSpace (Python's str.isspace also takes \x1c-\x1f).
SPACES = frozenset(
    "\t\n\v\f\r \x85\xa0\u1680\u2000\u2001\u2002\u2003\u2004\u2005"
    "\u2006\u2007\u2008\u2009\u200a\u2028\u2029\u202f\u205f\u3000"
)


def is_space(ch: str) -> bool:
    return ch in SPACES


class Words:
    __slots__ = ("word", "words", "in_word")

    def __init__(self) -> None:
        self.word, self.in_word = "", False
        self.words: list[str] = []

    def add_char(self, ch: str) -> None:
        if ch in SPACES:
            if self.in_word and self.word:
                self.words.append(self.word)
                self.word, self.in_word = "", False
        else:
            self.word += ch
            self.in_word = True

    def add_raw(self, s: str) -> None:
        self.word += s
        self.in_word = True

    def result(self) -> list[str]:
        if self.word:
            self.words.append(self.word)
            self.word, self.in_word = "", False
        return self.words


def _error(msg: str) -> Exception:
    return ExpansionError(msg)


def pattern_regex(pattern: str, *, greedy: bool, anchored: bool) -> re.Pattern[str]:
    """A shell wildcard (`*`, `?`, `\\` escapes; no brackets) as a regex."""
    out = ["^"] if anchored else []
    star = ".*" if greedy else ".*?"
    i, n = 0, len(pattern)
    while i < n:
        tok = pattern[i]
        i += 1
        if tok == "*":
            out.append(star)
        elif tok == "?":
            out.append(".")
        elif tok == "\\":
            nxt = pattern[i] if i < n else ""
            if nxt in ("}", "/"):
                continue
            i += 1
            if nxt not in ("*", "?", "\\"):
                raise _error(
                    f"invalid pattern ({pattern}) in substitution: invalid escape '\\{nxt}'"
                )
            out.append("\\" + nxt)
        elif tok in "[]{}.+()|^$":
            out.append("\\" + tok)
        else:
            out.append(tok)
    return re.compile("".join(out))


def trim_prefix(pattern: str, value: str, greedy: bool) -> str:
    m = pattern_regex(pattern, greedy=greedy, anchored=True).search(value)
    return value[m.end() :] if m else value


def _reverse_pattern(pattern: str) -> str:
    out: list[str] = []
    i, last = 0, len(pattern) - 1
    while i <= last:
        if pattern[i] == "\\" and i != last:
            out.append("\\" + pattern[i + 1])
            i += 2
        else:
            out.append(pattern[i])
            i += 1
    return "".join(reversed(out))


def trim_suffix(pattern: str, value: str, greedy: bool) -> str:
    return trim_prefix(_reverse_pattern(pattern), value[::-1], greedy)[::-1]
