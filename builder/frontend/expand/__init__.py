"""Shell-word expansion with BuildKit's exact rules (frontend/dockerfile/shell/lex.go).

Public API (stable):
- `expand_word(word, env, escape="\\\\") -> str`: one word, quotes removed, escapes
  processed, variables expanded, no splitting (BuildKit `ProcessWord`).
- `expand_words(word, env, escape="\\\\") -> list[str]`: the same, then split into
  words at unquoted whitespace, including whitespace that came from an unquoted
  variable (BuildKit `ProcessWords`).
- `Lexer`: the configurable form (`raw_quotes`, `raw_escapes`, `skip_unset`,
  `skip_quotes`) whose `process(word, env)` returns an `Expansion` with the result,
  the words and the names that were matched / unmatched.

Supported: `$V`, `${V}`, `${V:-w}`, `${V-w}`, `${V:+w}`, `${V+w}`, `${V:?m}`,
`${V?m}`, `${V#p}`, `${V##p}`, `${V%p}`, `${V%%p}`, `${V/p/r}`, `${V//p/r}`.
Errors raise `ExpansionError` (a `BuildError`); callers add the file position.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field

from builder.frontend.expand.errors import ExpansionError as ExpansionError  # re-exported
from builder.frontend.expand.parts import Words as _Words
from builder.frontend.expand.parts import is_space as is_space  # re-exported
from builder.frontend.expand.parts import pattern_regex, trim_prefix, trim_suffix
from builder.gofmt import quote as go_quote

_SPECIAL_PARAMS = frozenset("@*#?-$!0")
_PLAIN = re.compile(r"[^$'\"\\`<]*\Z")


@dataclass
class Expansion:
    """What a word expanded to, and which variables it used or missed."""

    result: str
    words: list[str]
    matched: set[str] = field(default_factory=set)
    unmatched: set[str] = field(default_factory=set)


class Lexer:
    """One configured BuildKit `shell.Lex`. Not thread-safe (holds the scan state)."""

    def __init__(
        self,
        escape: str = "\\",
        *,
        raw_quotes: bool = False,
        raw_escapes: bool = False,
        skip_unset: bool = False,
        skip_quotes: bool = False,
    ) -> None:
        self.escape = escape
        self.raw_quotes, self.raw_escapes = raw_quotes, raw_escapes
        self.skip_unset, self.skip_quotes = skip_unset, skip_quotes

    def process(self, word: str, env: Mapping[str, str]) -> Expansion:
        self._s, self._i, self._env = word, 0, env
        self._matched: set[str] = set()
        self._unmatched: set[str] = set()
        try:
            result, words = self._stop_on("", self.raw_escapes)
        except ExpansionError as e:
            raise ExpansionError(f"failed to process {go_quote(word)}: {e}") from None
        return Expansion(result, words, self._matched, self._unmatched)

    # scanner helpers
    def _peek(self) -> str:
        return self._s[self._i] if self._i < len(self._s) else ""

    def _next(self) -> str:
        if self._i < len(self._s):
            self._i += 1
            return self._s[self._i - 1]
        return ""

    def _stop_on(self, stop: str, raw_escapes: bool) -> tuple[str, list[str]]:
        saved, self.raw_escapes = self.raw_escapes, raw_escapes
        try:
            return self._stop_on_inner(stop)
        finally:
            self.raw_escapes = saved

    def _stop_on_inner(self, stop: str) -> tuple[str, list[str]]:
        out: list[str] = []
        words = _Words()
        esc = self.escape
        while self._i < len(self._s):
            ch = self._s[self._i]
            if stop and ch == stop:
                self._i += 1
                return "".join(out), words.result()
            if ch == "$":
                tmp = self._dollar()
                out.append(tmp)
                for c in tmp:
                    words.add_char(c)
            elif ch in "'\"" and not self.skip_quotes:
                tmp = self._single() if ch == "'" else self._double()
                out.append(tmp)
                words.add_raw(tmp)
            elif ch == "<":
                tmp = self._maybe_heredoc()
                out.append(tmp)
                words.add_raw(tmp)
            else:
                self._i += 1
                if ch == esc:
                    if self.raw_escapes:
                        words.add_raw(ch)
                        out.append(ch)
                    ch = self._next()
                    if not ch:
                        break
                    words.add_raw(ch)
                else:
                    words.add_char(ch)
                out.append(ch)
        if stop:
            raise ExpansionError(f"unexpected end of statement while looking for matching {stop}")
        return "".join(out), words.result()

    def _maybe_heredoc(self) -> str:
        # `<<` and `<<-` swallow the blanks after them, so `<<  EOF` stays one word.
        self._i += 1
        if self._peek() != "<":
            return "<"
        self._i += 1
        start = self._i
        if self._peek() == "-":
            self._i += 1
        while self._peek() in (" ", "\t"):
            self._i += 1
        return "<<" + self._s[start : self._i]

    def _single(self) -> str:
        self._i += 1
        end = self._s.find("'", self._i)
        if end < 0:
            raise ExpansionError(
                "unexpected end of statement while looking for matching single-quote"
            )
        body = self._s[self._i : end]
        self._i = end + 1
        return "'" + body + "'" if self.raw_quotes else body

    def _double(self) -> str:
        q = self._next()
        out = [q] if self.raw_quotes else []
        esc = self.escape
        while True:
            ch = self._peek()
            if not ch:
                raise ExpansionError(
                    "unexpected end of statement while looking for matching double-quote"
                )
            if ch == '"':
                self._i += 1
                if self.raw_quotes:
                    out.append(ch)
                return "".join(out)
            if ch == "$":
                out.append(self._dollar())
                continue
            self._i += 1
            if ch == esc:
                if self.raw_escapes:
                    out.append(ch)
                nxt = self._peek()
                if not nxt:
                    continue
                if nxt in ('"', "$", esc):
                    ch = self._next()
            out.append(ch)

    def _get(self, name: str) -> tuple[str, bool]:
        if name in self._env:
            self._matched.add(name)
            return self._env[name], True
        self._unmatched.add(name)
        return "", False

    def _name(self) -> str:
        start, s = self._i, self._s
        if self._i < len(s) and s[self._i].isdecimal():
            while self._i < len(s) and s[self._i].isdecimal():
                self._i += 1
            return s[start : self._i]
        if self._i < len(s) and s[self._i] in _SPECIAL_PARAMS:
            self._i += 1
            return s[start : self._i]
        while self._i < len(s) and (
            s[self._i].isalpha() or s[self._i].isdecimal() or s[self._i] == "_"
        ):
            self._i += 1
        return s[start : self._i]

    def _dollar(self) -> str:
        self._i += 1
        if self._peek() != "{":
            name = self._name()
            if not name:
                return "$"
            value, found = self._get(name)
            if not found and self.skip_unset:
                return "$" + name
            return value
        self._i += 1
        ch = self._peek()
        if not ch:
            raise ExpansionError("syntax error: missing '}'")
        if ch in "{}:":
            raise ExpansionError("syntax error: bad substitution")
        name = self._name()
        ch = self._next()
        if not ch:
            raise ExpansionError("syntax error: missing '}'")
        mod = ch
        if ch == "}":
            value, found = self._get(name)
            if not found and self.skip_unset:
                return "${" + name + "}"
            return value
        if ch and ch in ":+-?#%":
            return self._modifier(name, ch, mod)
        if ch == "/":
            return self._substitute(name)
        raise ExpansionError(f"unsupported modifier ({mod}) in substitution")

    def _modifier(self, name: str, ch: str, mod: str) -> str:
        null_is_unset = False
        if ch == ":":
            null_is_unset = True
            ch = self._next()
            mod += ch
            if ch not in "+-?#%" or not ch:
                # BuildKit still reads the word first, then rejects the modifier.
                self._stop_or_missing(False)
                raise ExpansionError(f"unsupported modifier ({mod}) in substitution")
        word, _ = self._stop_or_missing(ch in "#%")
        value, found = self._get(name)
        if self.skip_unset and not found:
            return "${" + name + mod + word + "}"
        if ch == "-":
            return word if (not found or (null_is_unset and value == "")) else value
        if ch == "+":
            return "" if (not found or (null_is_unset and value == "")) else word
        if ch == "?":
            if not found:
                raise ExpansionError(f"{name}: {word or 'is not allowed to be unset'}")
            if null_is_unset and value == "":
                raise ExpansionError(f"{name}: {word or 'is not allowed to be empty'}")
            return value
        if null_is_unset:
            raise ExpansionError(f"unsupported modifier ({mod}) in substitution")
        greedy = bool(word) and word[0] == ch
        if greedy:
            word = word[1:]
        if ch == "%":
            return trim_suffix(word, value, greedy)
        return trim_prefix(word, value, greedy)

    def _stop_or_missing(
        self, raw: bool, stop: str = "}", missing: str = "missing '}'"
    ) -> tuple[str, list[str]]:
        try:
            return self._stop_on(stop, raw)
        except ExpansionError:
            if not self._peek():
                raise ExpansionError(f"syntax error: {missing}") from None
            raise

    def _substitute(self, name: str) -> str:
        replace_all = self._peek() == "/"
        if replace_all:
            self._i += 1
        pattern, _ = self._stop_or_missing(True, "/", "missing '/' in ${}")
        repl, _ = self._stop_or_missing(True)
        value, found = self._get(name)
        if self.skip_unset and not found:
            return "${" + name + "/" + pattern + "/" + repl + "}"
        rx = pattern_regex(pattern, greedy=True, anchored=False)
        return rx.sub(lambda _m: repl, value, count=0 if replace_all else 1)


def expand_word(word: str, env: Mapping[str, str], escape: str = "\\") -> str:
    """Expand one word (BuildKit ProcessWord)."""
    if _PLAIN.match(word) and escape not in word:
        return word
    return Lexer(escape).process(word, env).result


def expand_words(word: str, env: Mapping[str, str], escape: str = "\\") -> list[str]:
    """Expand and split into words (BuildKit ProcessWords)."""
    return Lexer(escape).process(word, env).words
