"""`build --call targets` and `--call outline`: BuildKit's subrequests
(frontend/subrequests/targets and outline, dockerfile2llb's ListTargets and Outline),
made from the typed Dockerfile and the plan, with no build.

- targets: every stage in order, the last one the default, each with its description
  (the comment above its FROM that starts with the stage's name) and its base and
  platform as written;
- outline of a target: the ARGs of the stages it needs (the target, the stage it is
  built on, the stages it copies or mounts from): each stage's every ARG, and the
  global ARGs their FROM lines name (with the global ARGs those name), each with its
  value after --build-arg and its description; then the secrets and SSH sockets their
  RUN mounts ask for. A name counts once, in that order; lists go by line.

The text forms are BuildKit's (`PrintTargets`, `PrintOutline`: Go's tabwriter); the
JSON forms are its `result.json`. Pure: nothing is read but the text given.
"""

from __future__ import annotations

import base64
import json
import posixpath
from collections.abc import Mapping
from dataclasses import dataclass

from builder.frontend.expand import Lexer
from builder.frontend.instructions import Arg, Instruction, Run, parse_dockerfile
from builder.frontend.plan import make_plan


@dataclass(frozen=True)
class Target:
    name: str
    default: bool
    description: str
    base: str
    platform: str
    lines: tuple[int, int]


@dataclass(frozen=True)
class OutlineArg:
    name: str
    value: str
    description: str
    lines: tuple[int, int]


@dataclass(frozen=True)
class Wanted:
    """A secret or an SSH socket a RUN mount asks for."""

    name: str
    required: bool
    lines: tuple[int, int]


@dataclass(frozen=True)
class Outline:
    name: str
    description: str
    args: tuple[OutlineArg, ...]
    secrets: tuple[Wanted, ...]
    ssh: tuple[Wanted, ...]


def _lines(ins: Instruction) -> tuple[int, int]:
    return ins.span.line, ins.span.end_line or ins.span.line


def targets(text: str, file: str = "Dockerfile") -> list[Target]:
    stages = parse_dockerfile(text, file).stages
    return [
        Target(
            s.name,
            i == len(stages) - 1,
            s.from_.description,
            s.from_.base,
            s.from_.platform,
            _lines(s.from_),
        )
        for i, s in enumerate(stages)
    ]


def outline(
    text: str,
    file: str = "Dockerfile",
    *,
    build_args: Mapping[str, str] | None = None,
    target: str | None = None,
) -> Outline:
    parsed = parse_dockerfile(text, file)
    plan = make_plan(text, file=file, build_args=build_args, target=target)
    values = dict(plan.meta_args)
    metas: dict[str, tuple[Arg, int]] = {}
    for a in parsed.meta_args:
        for i, (key, _default) in enumerate(a.args):
            metas[key] = (a, i)
    args: dict[str, OutlineArg] = {}
    secrets: dict[str, Wanted] = {}
    ssh: dict[str, Wanted] = {}

    lexer = Lexer(parsed.escape)

    def meta_used(word: str) -> None:
        """The global ARGs `word` names (the names BuildKit's expansion matches), and
        those their defaults name."""
        used = lexer.process(word, values)
        for name in sorted(used.matched | used.unmatched):
            if name in metas and name not in args:
                a, i = metas[name]
                args[name] = OutlineArg(name, values.get(name, ""), _desc(a, i), _lines(a))
                meta_used(a.args[i][1] or "")

    def visit(index: int) -> None:
        stage = plan.stage(index)
        for step in stage.steps:
            ins = step.instruction
            if isinstance(ins, Arg):
                vals = dict(step.arg_values)
                for i, (key, _default) in enumerate(ins.args):
                    if key not in args:
                        value = vals.get(key) or ""
                        args[key] = OutlineArg(key, value, _desc(ins, i), _lines(ins))
            elif isinstance(ins, Run):
                for m in ins.mounts:
                    if m.type == "secret":
                        sid = m.id or posixpath.basename(m.target)
                        secrets.setdefault(sid, Wanted(sid, m.required, _lines(ins)))
                    elif m.type == "ssh":
                        sid = m.id or "default"
                        ssh.setdefault(sid, Wanted(sid, m.required, _lines(ins)))
        raw = parsed.stages[index].from_
        meta_used(raw.base)
        meta_used(raw.platform)
        if isinstance(stage.base, int):
            visit(stage.base)
        for dep in stage.deps:
            if dep != stage.base:
                visit(dep)

    visit(plan.target)
    top = plan.stage(plan.target)

    return Outline(
        top.name,
        top.from_.description,
        tuple(sorted(args.values(), key=lambda a: a.lines[0])),
        tuple(sorted(secrets.values(), key=lambda w: w.lines[0])),
        tuple(sorted(ssh.values(), key=lambda w: w.lines[0])),
    )


def _desc(a: Arg, i: int) -> str:
    return a.descriptions[i] if i < len(a.descriptions) else ""


# --- BuildKit's text and JSON ---------------------------------------------------------


def _tabwrite(rows: list[list[str]], padding: int) -> str:
    """Go's text/tabwriter (minwidth 0, padded with blanks) over rows of one shape: each
    tab-terminated cell padded to its column's widest plus `padding`, the last as is."""
    widths = [max(len(r[c]) for r in rows) + padding for c in range(len(rows[0]) - 1)]
    return "".join(
        "".join(c.ljust(w) for c, w in zip(r[:-1], widths, strict=True)) + r[-1] + "\n"
        for r in rows
    )


def print_targets(ts: list[Target]) -> str:
    rows = [["TARGET", "DESCRIPTION"]]
    for t in ts:
        name = "(default)" if not t.name and t.default else t.name
        if t.name and t.default:
            name += " (default)"
        rows.append([name, t.description])
    return _tabwrite(rows, 1)


def print_outline(o: Outline) -> str:
    out = ""
    if o.name or o.description:
        rows = [["TARGET:", o.name or "(default)"]]
        if o.description:
            rows.append(["DESCRIPTION:", o.description])
        out += _tabwrite(rows, 1) + "\n"
    if o.args:
        rows = [["BUILD ARG", "VALUE", "DESCRIPTION"]]
        rows += [[a.name, a.value, a.description] for a in o.args]
        out += _tabwrite(rows, 3) + "\n"
    for title, wanted in (("SECRET", o.secrets), ("SSH", o.ssh)):
        if wanted:
            rows = [[title, "REQUIRED"]] + [[w.name, "true" if w.required else ""] for w in wanted]
            out += _tabwrite(rows, 3) + "\n"
    return out


def _location(lines: tuple[int, int]) -> dict[str, object]:
    return {"ranges": [{"start": {"line": lines[0]}, "end": {"line": lines[1]}}]}


def _go_json(doc: object) -> str:
    """json.MarshalIndent(doc, "", "  "), with Go's escapes of <, > and &."""
    text = json.dumps(doc, indent=2, ensure_ascii=False)
    return text.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")


def _omit_empty(d: dict[str, object]) -> dict[str, object]:
    return {k: v for k, v in d.items() if v not in ("", False, None, [], ())}


def targets_json(ts: list[Target], text: str) -> str:
    items = [
        _omit_empty(
            {
                "name": t.name,
                "default": t.default,
                "description": t.description,
                "base": t.base,
                "platform": t.platform,
                "location": _location(t.lines),
            }
        )
        for t in ts
    ]
    return _go_json({"targets": items, "sources": [_b64(text)]})


def outline_json(o: Outline, text: str) -> str:
    doc = _omit_empty(
        {
            "name": o.name,
            "description": o.description,
            "args": [
                {
                    "name": a.name,
                    **_omit_empty({"description": a.description, "value": a.value}),
                    "location": _location(a.lines),
                }
                for a in o.args
            ],
            "secrets": [_wanted(w) for w in o.secrets],
            "ssh": [_wanted(w) for w in o.ssh],
            "sources": [_b64(text)],
        }
    )
    return _go_json(doc)


def _wanted(w: Wanted) -> dict[str, object]:
    return {
        "name": w.name,
        **({"required": True} if w.required else {}),
        "location": _location(w.lines),
    }


def _b64(text: str) -> str:
    return base64.b64encode(text.encode()).decode()
