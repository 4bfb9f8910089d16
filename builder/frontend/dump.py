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

from dataclasses import asdict, fields
from typing import TYPE_CHECKING

from builder.cache_inputs import plan_record
from builder.gofmt import quote as go_quote

if TYPE_CHECKING:
    from builder.frontend.instructions.base import Instruction
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


def canonical_text(inst: Instruction) -> str:
    """The text a cache key hashes: each instruction class says it (`canonical`)."""
    return inst.canonical()


def instruction_json(inst) -> dict:
    """The typed instruction's fields as JSON-ready values (span and original aside)."""
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
