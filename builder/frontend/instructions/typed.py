"""From syntax `Node`s to typed instructions, with BuildKit's argument checks.

Public API: `typed(node, file) -> Instruction` (raises `DockerfileError` rendered as
`FILE:LINE:COL: KEYWORD: message`, exit 2) and `KEYWORDS`.
"""

from __future__ import annotations

import re
from typing import TypedDict, cast

from builder.errors import DockerfileError, Span
from builder.frontend.instructions import model as m
from builder.frontend.instructions.flags import FlagError, parse_duration, parse_flags, parse_mount
from builder.frontend.syntax import Heredoc, Node, parse_heredoc

KEYWORDS = (
    "FROM",
    "RUN",
    "CMD",
    "LABEL",
    "MAINTAINER",
    "EXPOSE",
    "ENV",
    "ADD",
    "COPY",
    "ENTRYPOINT",
    "VOLUME",
    "USER",
    "WORKDIR",
    "ARG",
    "ONBUILD",
    "STOPSIGNAL",
    "HEALTHCHECK",
    "SHELL",
)
_STAGE_NAME = re.compile(r"^[a-z][a-z0-9\-_.]*\Z")
_MS = 1_000_000


class _Base(TypedDict):
    """The fields every instruction takes from its node (`_Ctx.base`)."""

    span: Span
    original: str


class _CopyFields(TypedDict):
    """The fields COPY and ADD share (`_copy`)."""

    sources: tuple[str, ...]
    dest: str
    heredocs: tuple[Heredoc, ...]
    chown: str
    chmod: str
    link: bool
    parents: bool
    excludes: tuple[str, ...]
    exec_form: bool


class _Ctx:
    def __init__(self, node: Node, file: str) -> None:
        self.node, self.file, self.kw = node, file, node.keyword.upper()

    def error(self, message: str) -> DockerfileError:
        return DockerfileError(message, self.node.span, self.file, self.kw)

    def flags(self) -> dict[str, str | bool | list[str]]:
        try:
            return parse_flags(self.kw, self.node.flags)
        except FlagError as e:
            raise self.error(str(e)) from None

    def base(self) -> _Base:
        return {"span": self.node.span, "original": self.node.original}

    def at_least(self, n: int) -> tuple[str, ...]:
        args = self.node.args
        if len(args) < n:
            what = "one argument" if n == 1 else "two arguments"
            raise self.error(f"{self.kw} requires at least {what}")
        return args

    def exactly_one(self) -> str:
        if len(self.node.args) != 1:
            raise self.error(f"{self.kw} requires exactly one argument")
        return self.node.args[0]


def _from(c: _Ctx) -> m.From:
    flags = c.flags()
    args = c.node.args
    if len(args) not in (1, 3) or (len(args) == 3 and args[1].lower() != "as"):
        raise c.error("FROM requires either one or three arguments")
    name = args[2].lower() if len(args) == 3 else ""
    if len(args) == 3 and not _STAGE_NAME.match(name):
        raise c.error(
            f'invalid name for build stage: "{args[2]}", name can\'t start with a '
            "number or contain symbols"
        )
    return m.From(**c.base(), base=args[0], name=name, platform=str(flags.get("platform", "")))


def _run(c: _Ctx) -> m.Run:
    flags = c.flags()
    heredocs = c.node.heredocs
    if not c.node.args and not heredocs:
        raise c.error("RUN requires at least one argument")
    try:
        # --mount is a "list" flag (flags.ALLOWED), so its value is a list[str]
        mounts = tuple(parse_mount(t) for t in cast("list[str]", flags.get("mount", [])))
    except FlagError as e:
        raise c.error(str(e)) from None
    network = str(flags.get("network", ""))
    if network and network not in ("default", "none", "host"):
        raise c.error(f"unsupported network mode: {network}")
    security = str(flags.get("security", ""))
    if security and security not in ("sandbox", "insecure"):
        raise c.error(f"unsupported security mode: {security}")
    return m.Run(
        **c.base(),
        command=c.node.args,
        exec_form=c.node.json,
        mounts=mounts,
        network=network,
        security=security,
        heredocs=heredocs,
    )


def _copy(c: _Ctx) -> m.Copy:
    flags = c.flags()
    args = c.node.args
    if len(args) < 2:
        raise c.error(
            f"{c.kw} requires at least two arguments, but only one was provided. "
            "Destination could not be determined"
        )
    names = {h.name for h in c.node.heredocs}
    sources: list[str] = []
    for word in args[:-1]:
        doc = None if c.node.json else _marker(c, word)
        if doc is None or doc.name not in names:
            sources.append(word)
    if not c.node.json and (d := _marker(c, args[-1])) is not None and d.name in names:
        raise c.error("heredoc cannot be the destination")
    common = _CopyFields(
        sources=tuple(sources),
        dest=args[-1],
        heredocs=c.node.heredocs,
        chown=str(flags.get("chown", "")),
        chmod=str(flags.get("chmod", "")),
        link=bool(flags.get("link", False)),
        parents=bool(flags.get("parents", False)),
        # --exclude is a "list" flag (flags.ALLOWED), so its value is a list[str]
        excludes=tuple(cast("list[str]", flags.get("exclude", []))),
        exec_form=c.node.json,
    )
    if c.kw == "COPY":
        return m.Copy(**c.base(), from_=str(flags.get("from", "")), **common)
    return m.Add(
        **c.base(),
        checksum=str(flags.get("checksum", "")),
        keep_git_dir=bool(flags.get("keep-git-dir", False)),
        **common,
    )


def _marker(c: _Ctx, word: str) -> Heredoc | None:
    try:
        return parse_heredoc(word)
    except DockerfileError as e:
        raise c.error(e.message) from None


def _pairs(c: _Ctx, cls: type[m._Pairs]) -> m._Pairs:
    c.flags()
    args = c.at_least(1)
    pairs = tuple(m.KeyValue(args[i], args[i + 1]) for i in range(0, len(args) - 2, 3))
    if any(not p.key for p in pairs):
        raise c.error(f"{c.kw} names can not be blank")
    return cls(**c.base(), pairs=pairs)


def _arg(c: _Ctx) -> m.Arg:
    c.flags()
    out = []
    for word in c.at_least(1):
        key, eq, value = word.partition("=")
        if not key:
            raise c.error("ARG names can not be blank")
        out.append((key, value if eq else None))
    return m.Arg(**c.base(), args=tuple(out))


def _healthcheck(c: _Ctx) -> m.Healthcheck:
    flags = c.flags()
    args = c.at_least(1)
    typ = args[0].upper()
    if typ == "NONE":
        if len(args) > 1:
            raise c.error("HEALTHCHECK NONE takes no arguments")
        return m.Healthcheck(**c.base(), none=True)
    if typ != "CMD":
        raise c.error(f'Unknown type "{args[0]}" in HEALTHCHECK (try CMD)')
    if len(args) < 2:
        raise c.error("Missing command after HEALTHCHECK CMD")
    test = ("CMD", *args[1:]) if c.node.json else ("CMD-SHELL", args[1])
    times: dict[str, int] = {}
    for name in ("interval", "timeout", "start-period", "start-interval"):
        text = str(flags.get(name, "") or "0")
        try:
            ns = parse_duration(text)
        except FlagError as e:
            raise c.error(f"--{name}: {e}") from None
        if 0 < ns < _MS:
            raise c.error(f"--{name} cannot be less than 1ms")
        times[name.replace("-", "_")] = ns
    try:
        retries = int(str(flags.get("retries", "0")))
    except ValueError:
        raise c.error(f"--retries: invalid number {flags.get('retries')!r}") from None
    if retries < 0:
        raise c.error("--retries cannot be negative")
    return m.Healthcheck(
        **c.base(),
        test=test,
        retries=retries,
        interval=times["interval"],
        timeout=times["timeout"],
        start_period=times["start_period"],
        start_interval=times["start_interval"],
    )


def _onbuild(c: _Ctx) -> m.Onbuild:
    c.flags()
    sub = c.node.sub
    if sub is None:
        raise c.error("ONBUILD requires at least one argument")
    kw = sub.keyword.upper()
    if kw == "ONBUILD":
        raise c.error("Chaining ONBUILD via `ONBUILD ONBUILD` isn't allowed")
    if kw in ("FROM", "MAINTAINER"):
        raise c.error(f"{kw} isn't allowed as an ONBUILD trigger")
    return m.Onbuild(**c.base(), expression=sub.original, trigger=typed(sub, c.file))


def _unknown(c: _Ctx) -> m.Instruction:
    import difflib

    word = c.node.original.split(None, 1)[0] if c.node.original.strip() else ""
    hint = difflib.get_close_matches(word.upper(), KEYWORDS, n=1, cutoff=0.6)
    extra = f" (did you mean {hint[0]}?)" if hint else ""
    raise DockerfileError(f"unknown instruction: {word}{extra}", c.node.span, c.file)


def typed(node: Node, file: str = "Dockerfile") -> m.Instruction:
    c = _Ctx(node, file)
    kw = c.kw
    if kw == "FROM":
        return _from(c)
    if kw == "RUN":
        return _run(c)
    if kw in ("COPY", "ADD"):
        return _copy(c)
    if kw in ("ENV", "LABEL"):
        return _pairs(c, m.Env if kw == "ENV" else m.Label)
    if kw == "ARG":
        return _arg(c)
    if kw in ("CMD", "ENTRYPOINT"):
        c.flags()
        cls = m.Cmd if kw == "CMD" else m.Entrypoint
        return cls(**c.base(), command=node.args, exec_form=node.json)
    if kw == "SHELL":
        c.flags()
        args = c.at_least(1)
        if not node.json:
            raise c.error("SHELL requires the arguments to be in JSON form")
        return m.Shell(**c.base(), shell=args)
    if kw == "EXPOSE":
        c.flags()
        return m.Expose(**c.base(), ports=c.at_least(1))
    if kw == "VOLUME":
        c.flags()
        paths = c.at_least(1)
        if any(not p.strip() for p in paths):
            raise c.error("VOLUME specified can not be an empty string")
        return m.Volume(**c.base(), paths=paths)
    if kw in ("USER", "WORKDIR", "STOPSIGNAL"):
        c.flags()
        single = {"USER": m.User, "WORKDIR": m.Workdir, "STOPSIGNAL": m.StopSignal}[kw]
        return single(**c.base(), value=c.exactly_one())
    if kw == "MAINTAINER":
        c.flags()
        return m.Maintainer(**c.base(), maintainer=c.exactly_one())
    if kw == "HEALTHCHECK":
        return _healthcheck(c)
    if kw == "ONBUILD":
        return _onbuild(c)
    return _unknown(c)
