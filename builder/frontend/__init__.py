"""The Dockerfile front end: text -> typed instructions -> a pure build plan.

`syntax` parses (the lark grammar `grammar.lark`, compiled ahead of time into
`_dockerfile_parser` by scripts/gen_parser.py), `lineparsers` and `instructions` type
each instruction with its flags, `expand` and `args` do shell-word expansion and
ARG/--build-arg resolution, `plan` turns the stages into a `BuildPlan`, and
`dockerignore` matches context paths. Nothing here runs a command or touches the store:
the host platform and the base images' configs are passed in.

The package is a seam (PEP 562): `make_plan` (`builder.frontend.plan`) loads the
planner, the parser and the rest on first use, so what only reads a plan (the engine
with a plan from its cache) imports just the instructions and `planned`.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from builder.frontend.plan import make_plan as make_plan


def __getattr__(name: str) -> Any:
    if name == "make_plan":
        return importlib.import_module("builder.frontend.plan").make_plan
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
