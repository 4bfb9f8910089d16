"""Dockerfile syntax: physical lines to an AST of instruction nodes (ARCHITECTURE §3, stage 1).

Public API (stable):
- `parse(text, file="Dockerfile") -> Dockerfile`: the directives, the escape
  character, warnings, and one `Node` per instruction with its `Span`, flags, dump
  arguments (BuildKit's dispatch table) and heredocs. Raises `DockerfileError`
  (`FILE:LINE:COL: message`, exit 2).
- `parse_heredoc(word) -> Heredoc | None`, `heredocs_from_line(line) -> list[Heredoc]`,
  `chomp(text) -> str`: BuildKit's heredoc helpers.

The line scanner follows BuildKit's parser.go: directives only at the top, the escape
character before a newline continues the line (comment and empty lines inside a
continuation are dropped), heredoc bodies are read raw after their instruction. The
joined logical lines are then parsed in one go by the LALR grammar in grammar.lark
(generated into `_dockerfile_parser.py`), and arguments are typed here per keyword.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field, replace

from builder.errors import DockerfileError, Span
from builder.frontend._dockerfile_parser import Lark_StandAlone, Token, Transformer
from builder.frontend.lineparsers import (  # noqa: F401 - heredoc helpers re-exported
    Heredoc,
    LineError,
    chomp,
    dispatch,
    flag_text,
    heredocs_from_line,
    lstrip,
    parse_heredoc,
    strip,
)

_DIRECTIVE = re.compile(
    r"^#[ \t\n\f\r]*([a-zA-Z][a-zA-Z0-9]*)[ \t\n\f\r]*=[ \t\n\f\r]*(.+?)[ \t\n\f\r]*\Z"
)
_WS_SPLIT = re.compile(r"[\t\v\f\r ]+")
_VALID_DIRECTIVES = ("syntax", "escape", "check")
HEREDOC_KEYWORDS = frozenset(("run", "copy", "add"))


@dataclass(frozen=True)
class Directive:
    """A parser directive at the top (`syntax`, `escape`, `check`)."""

    name: str
    value: str
    span: Span


@dataclass(frozen=True)
class Node:
    """One instruction as BuildKit's parser sees it (before typing)."""

    keyword: str  # lower case, e.g. "copy"; unknown words too
    flags: tuple[str, ...]  # `--name=value`, quotes removed, in order
    args: tuple[str, ...]  # per BuildKit's dispatch table (see dump.py)
    rest: str  # argument text after the flags, trimmed
    original: str  # the logical line as written (continuations joined)
    span: Span
    json: bool = False  # exec (JSON array) form
    sub: Node | None = None  # ONBUILD's payload
    heredocs: tuple[Heredoc, ...] = ()
    # the comment lines since the previous instruction, `#` and blanks stripped (BuildKit's
    # PrevComment: a bare `#` starts them afresh, parser directives are not among them)
    comments: tuple[str, ...] = field(default=(), compare=False)


@dataclass(frozen=True)
class Dockerfile:
    """The parsed file: directives, escape character, nodes and warnings."""

    file: str
    nodes: tuple[Node, ...]
    directives: tuple[Directive, ...] = ()
    escape: str = "\\"
    warnings: tuple[tuple[int, str, str], ...] = ()  # (line, rule, message)


def _is_comment(line: str) -> bool:
    return lstrip(line.rstrip("\r\n")).startswith("#")


class _Scanner:
    """The physical-line loop of BuildKit's Parse()."""

    def __init__(self, text: str, file: str) -> None:
        self.file = file
        if text.startswith("\ufeff"):
            text = text[1:]
        parts = text.split("\n")
        self.lines = [p + "\n" for p in parts[:-1]] + ([parts[-1]] if parts[-1] else [])
        self.escape = "\\"
        self.directives: list[Directive] = []
        self.warnings: list[tuple[int, str, str]] = []  # (line, rule, message)
        self.directives_done = False
        self._cont = self._cont_regex()
        self.comments: list[str] = []  # since the last instruction (BuildKit's PrevComment)

    def _cont_regex(self) -> re.Pattern[str]:
        e = re.escape(self.escape)
        return re.compile(rf"([^{e}]){e}[ \t]*\Z|^{e}[ \t]*\Z")

    def _error(self, msg: str, line: int, instruction: str = "") -> DockerfileError:
        return DockerfileError(msg, Span(max(line, 1)), self.file, instruction)

    def _directive(self, token: str, lineno: int) -> bool:
        """Take `token` as a parser directive if it is one (True)."""
        if self.directives_done:
            return False
        m = _DIRECTIVE.match(token)
        key = m.group(1).lower() if m else ""
        if m is None or key not in _VALID_DIRECTIVES:
            self.directives_done = True
            return False
        if any(d.name == key for d in self.directives):
            raise self._error(f"only one {key} parser directive can be used", lineno)
        value = m.group(2)
        if key == "escape":
            if value not in ("`", "\\"):
                raise self._error(f"invalid escape token '{value}' does not match ` or \\", lineno)
            self.escape = value
            self._cont = self._cont_regex()
        self.directives.append(Directive(key, value, Span(lineno, 1, lineno, len(token))))
        return True

    def _trim_cont(self, line: str) -> tuple[str, bool]:
        m = self._cont.search(line)
        if m:
            return line[: m.start()] + (m.group(1) or ""), False
        return line, True

    def logical_lines(self):
        """Yield (span, logical line) per instruction; heredocs land in `self.pending`."""
        lines, n, i = self.lines, len(self.lines), 0
        while i < n:
            raw = lines[i]
            i += 1
            start = i
            token = lstrip(raw.rstrip("\r\n"))
            directive = self._directive(token, i)
            if token.startswith("#"):
                if not directive:  # a parser directive is no comment
                    text = strip(raw.rstrip("\r\n")[1:])  # as BuildKit: the raw line's rest
                    if text:
                        self.comments.append(text)
                    else:  # a bare `#` starts them afresh
                        self.comments = []
                token = ""
            column = len(raw) - len(lstrip(raw)) + 1
            line, end = self._trim_cont(token)
            if end and line == "":
                continue
            last = raw
            while not end and i < n:
                raw = lines[i]
                i += 1
                self._directive(raw.rstrip("\r\n"), i)
                if _is_comment(raw):
                    continue
                if not lstrip(raw.rstrip("\r\n")):
                    self.warnings.append(
                        (
                            i,
                            "NoEmptyContinuation",
                            "Empty continuation line (will become an error in a future release)",
                        )
                    )
                    continue
                last = raw
                cont, end = self._trim_cont(raw.rstrip("\r\n"))
                line += cont
            self.directives_done = True
            end_line, end_col = i, len(last.rstrip("\r\n"))
            i = self._heredoc_bodies(line, start, i)
            if i != end_line:
                end_line, end_col = i, len(lines[i - 1].rstrip("\r\n"))
            self.taken_comments, self.comments = tuple(self.comments), []
            yield Span(start, column, end_line, end_col), line

    def _heredoc_bodies(self, line: str, start: int, i: int) -> int:
        """Consume the bodies of the heredocs `line` opens; returns the next line index."""
        self.pending: list[Heredoc] = []
        if "<<" not in line or not _can_heredoc(line):
            return i
        try:
            docs = heredocs_from_line(line)
        except DockerfileError as e:
            raise self._error(e.message, start) from None
        for doc in docs:
            body: list[str] = []
            while i < len(self.lines):
                raw = self.lines[i]
                i += 1
                term = raw.rstrip("\r\n")
                if (term.lstrip("\t") if doc.chomp else term) == doc.name:
                    break
                body.append(raw)
            else:
                raise self._error(
                    "unterminated heredoc", start, _WS_SPLIT.split(strip(line), 1)[0].upper()
                )
            self.pending.append(Heredoc(doc.name, "".join(body), doc.chomp, doc.expand, doc.fd))
        return i


def _can_heredoc(line: str) -> bool:
    node = split_line(line)
    if node.keyword == "onbuild" and node.sub is not None:
        node = node.sub
    return node.keyword in HEREDOC_KEYWORDS and not node.json


def parse(text: str, file: str = "Dockerfile") -> Dockerfile:
    scanner = _Scanner(text, file)
    records = []
    for span, line in scanner.logical_lines():
        records.append((span, line, tuple(scanner.pending), scanner.taken_comments))
    if not records:
        raise DockerfileError("file with no instructions", Span(max(len(scanner.lines), 1)), file)
    nodes = _parse_lines(records, scanner.directives, file, scanner.escape)
    return Dockerfile(
        file, nodes, tuple(scanner.directives), scanner.escape, tuple(scanner.warnings)
    )


# --- logical lines through the lark grammar, then BuildKit's per-keyword line parsers ---


class _Shape(Transformer):
    """The grammar's trees as the plain lists of tokens `_node` reads."""

    def start(self, items):
        return items

    def directive(self, items):
        return items[0]

    def instruction(self, items):
        return items

    unknown = instruction

    def onbuild(self, items):
        return items


_PARSER = None


def _lark():
    """The standalone LALR parser, built on first use."""
    global _PARSER
    if _PARSER is None:
        _PARSER = Lark_StandAlone(transformer=_Shape())
    return _PARSER


def _node(items: list, line: str, span: Span, heredocs: tuple = (), escape: str = "\\") -> Node:
    """A Node from the grammar's shape of `line` (items[0] is the keyword token)."""
    base = items[0].start_pos
    flags: list[str] = []
    rest, sub = "", None
    for it in items[1:]:
        if not isinstance(it, Token):
            sub_line = line[it[0].start_pos - base :]
            sub = _node(it, sub_line, span, (), escape)
            rest = sub_line
        elif it.type == "FLAG":
            text = flag_text(str(it))
            if text == "--":
                rest = strip(line[it.end_pos - base :])
                break
            flags.append(text)
        else:
            rest = strip(str(it))
    keyword = str(items[0]).lower()
    args: list[str] = []
    is_json = False
    if keyword != "onbuild":
        args, is_json = dispatch(keyword, rest, span, escape)
    return Node(keyword, tuple(flags), tuple(args), rest, line, span, is_json, sub, heredocs)


def _parse_lines(
    records: list, directives: list[Directive], file: str, escape: str
) -> tuple[Node, ...]:
    parser = _lark()
    stripped = [strip(line) for _span, line, _h, _c in records]
    text = "".join(f"#{d.name}={d.value}\n" for d in directives)
    text += "".join(s + "\n" for s in stripped if s)
    try:
        shapes = iter(parser.parse(text)[len(directives) :])
    except Exception as e:  # a grammar gap must still be one line, exit 2
        line = getattr(e, "line", 0) - len(directives)
        spans = [span for (span, _l, _h, _c), s in zip(records, stripped, strict=True) if s]
        span = spans[min(max(line, 1), len(spans)) - 1] if spans else Span(1)
        raise DockerfileError(f"syntax error: {str(e).splitlines()[0]}", span, file) from None
    nodes = []
    try:
        for (span, _line, heredocs, comments), s in zip(records, stripped, strict=True):
            if not s:
                nodes.append(Node("", (), (), "", "", span))
                continue
            node = _node(next(shapes), s, span, heredocs, escape)
            nodes.append(replace(node, comments=comments) if comments else node)
    except LineError as e:
        raise DockerfileError(e.args[0], e.args[1], file, e.args[2]) from None
    return tuple(nodes)


def split_line(line: str, escape: str = "\\") -> Node:
    """One logical line as a Node (no span, no heredocs)."""
    s = strip(line)
    if not s:
        return Node("", (), (), "", "", Span(1))
    try:
        return _node(_lark().parse(s + "\n")[0], s, Span(1), (), escape)
    except LineError:
        return Node("", (), (), "", s, Span(1))
