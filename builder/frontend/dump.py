"""BuildKit's AST dump format (`parser.Node.Dump()`), used by the parser goldens.

Public API (stable):
- `dump_node(node) -> str`: one instruction as `(keyword ["--flag"] "arg" ...)`
  without the outer parentheses' newline.
- `dump(dockerfile) -> str`: every instruction, one per line, each wrapped in
  parentheses, ending in a newline — byte-for-byte what `buildkit-parser/testfiles/*/result`
  holds.
- `canonical_text(instruction)`, `instruction_json(instruction)`, `plan_json(plan)`: the
  renderings of typed instructions and plans used by cache keys and `pybuild plan`.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from builder.gofmt import quote as go_quote

if TYPE_CHECKING:
    from builder.frontend.syntax import Dockerfile, Node


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


# --- typed instructions: the canonical text that goes into cache keys and `plan` ---


def _word(s: str) -> str:
    import json

    return (
        s
        if s and not any(c.isspace() or c in "\"'\\" for c in s)
        else json.dumps(s, ensure_ascii=False)
    )


def _command(command: tuple[str, ...], exec_form: bool) -> str:
    import json

    if exec_form:
        return json.dumps(list(command), ensure_ascii=False)
    return " ".join(command)


def _flag(name: str, value: object) -> str:
    if value is True:
        return f"--{name}"
    return f"--{name}={value}"


def canonical_text(inst) -> str:  # one branch per instruction
    """One line per typed instruction, words as they are (expanded in a plan), flags in
    a fixed order, heredoc bodies appended: the text a cache key hashes."""
    from builder.frontend.instructions import model as m

    kw = inst.keyword
    if isinstance(inst, m.From):
        plat = f"--platform={inst.platform} " if inst.platform else ""
        return f"FROM {plat}{inst.base}" + (f" AS {inst.name}" if inst.name else "")
    if isinstance(inst, m.Run):
        flags = [_flag("mount", _mount_text(mt)) for mt in inst.mounts]
        flags += [
            _flag(k, v) for k, v in (("network", inst.network), ("security", inst.security)) if v
        ]
        text = " ".join(["RUN", *flags, _command(inst.command, inst.exec_form)])
        return text + "".join(f"\n{h.content}{h.name}" for h in inst.heredocs)
    if isinstance(inst, m.Copy):
        pairs = [
            ("from", inst.from_),
            ("chown", inst.chown),
            ("chmod", inst.chmod),
            ("link", inst.link),
            ("parents", inst.parents),
        ]
        if isinstance(inst, m.Add):
            pairs += [("checksum", inst.checksum), ("keep-git-dir", inst.keep_git_dir)]
        flags = [_flag(k, v) for k, v in pairs if v] + [_flag("exclude", e) for e in inst.excludes]
        srcs = [*inst.sources, *(f"<<{h.name}" for h in inst.heredocs)]
        text = " ".join([kw, *flags, *map(_word, srcs), _word(inst.dest)])
        return text + "".join(f"\n{h.content}{h.name}" for h in inst.heredocs)
    if isinstance(inst, (m.Env, m.Label)):
        return kw + "".join(f" {_word(p.key)}={_word(p.value)}" for p in inst.pairs)
    if isinstance(inst, m.Arg):
        return kw + "".join(f" {k}" if v is None else f" {k}={_word(v)}" for k, v in inst.args)
    if isinstance(inst, m.Cmd):
        return f"{kw} {_command(inst.command, inst.exec_form)}"
    if isinstance(inst, m.Shell):
        return f"SHELL {_command(inst.shell, True)}"
    if isinstance(inst, m.Expose):
        return " ".join([kw, *inst.ports])
    if isinstance(inst, m.Volume):
        return " ".join([kw, *map(_word, inst.paths)])
    if isinstance(inst, m._Single):
        return f"{kw} {inst.value}"
    if isinstance(inst, m.Maintainer):
        return f"MAINTAINER {inst.maintainer}"
    if isinstance(inst, m.Healthcheck):
        if inst.none:
            return "HEALTHCHECK NONE"
        opts = [
            ("interval", inst.interval),
            ("timeout", inst.timeout),
            ("start-period", inst.start_period),
            ("start-interval", inst.start_interval),
            ("retries", inst.retries),
        ]
        flags = [f"--{k}={v}" for k, v in opts if v]
        cmd = _command(inst.test[1:], inst.test[0] == "CMD")
        return " ".join(["HEALTHCHECK", *flags, "CMD", cmd])
    if isinstance(inst, m.Onbuild):
        return f"ONBUILD {inst.expression}"
    return inst.original


def _mount_text(mt) -> str:
    from dataclasses import fields

    parts = [f"type={mt.type}"]
    defaults = type(mt)(readonly=mt.type in ("bind", "secret", "ssh"))
    for f in fields(mt):
        value = getattr(mt, f.name)
        if f.name != "type" and value != getattr(defaults, f.name):
            name = "from" if f.name == "from_" else f.name
            parts.append(f"{name}={oct(value)[2:] if name == 'mode' else value}")
    return ",".join(str(p) for p in parts)


def instruction_json(inst) -> dict:
    """The typed instruction's fields as JSON-ready values (span and original aside)."""
    from dataclasses import asdict, fields

    out: dict = {"keyword": inst.keyword}
    for f in fields(inst):
        if f.name in ("span", "original", "trigger"):
            continue
        value = getattr(inst, f.name)
        if isinstance(value, tuple):
            value = [
                asdict(v)
                if hasattr(v, "__dataclass_fields__")
                else (list(v) if isinstance(v, tuple) else v)
                for v in value
            ]
        out[f.name.rstrip("_")] = value
    return out


def plan_json(plan) -> dict:
    """A BuildPlan as JSON-ready values (what `pybuild plan --json` prints); each step's
    `cache_inputs` is what the plan decides of its cache-key record."""
    from builder.cache_inputs import plan_record

    return {
        "file": plan.file,
        "target": plan.target,
        "warnings": list(plan.warnings),
        "unused_build_args": list(plan.unused_build_args),
        "meta_args": dict(plan.meta_args),
        "stages": [
            {
                "index": s.index,
                "name": s.name,
                "base": s.base,
                "platform": s.platform,
                "deps": list(s.deps),
                "images": list(s.images),
                "line": s.from_.span.line,
                "steps": [
                    {
                        "number": st.number,
                        "line": st.instruction.span.line,
                        "end_line": st.instruction.span.end_line,
                        "text": st.text,
                        "original": st.instruction.original,
                        "instruction": instruction_json(st.instruction),
                        "env": dict(st.env),
                        "args": dict(st.args),
                        "shell": list(st.shell),
                        "from_stage": st.from_stage,
                        "from_image": st.from_image,
                        "cache_inputs": plan_record(st, s.platform),
                    }
                    for st in s.steps
                ],
            }
            for s in plan.stages
        ],
    }
