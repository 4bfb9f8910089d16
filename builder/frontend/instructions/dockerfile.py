"""A Dockerfile's text to typed instructions grouped into stages: `parse_dockerfile`.

The text is parsed by `builder.frontend.syntax`, each node typed by
`builder.frontend.instructions.typed`, the instructions grouped under their `FROM`, and
the `# check=` directive applied to the lint warnings. `builder.frontend.instructions`
hands `parse_dockerfile` out on first use, so what only reads instructions (a plan from
the cache) never loads the parser.
"""

from __future__ import annotations

from dataclasses import dataclass

from builder.errors import DockerfileError, Span
from builder.frontend.instructions.model import Arg, From, Instruction
from builder.frontend.instructions.typed import typed
from builder.frontend.syntax import parse


@dataclass(frozen=True)
class Warning:  # mirrors BuildKit's lint warning, not the builtin
    """A lint finding (`FILE:LINE: Rule: message`), never an error."""

    rule: str
    message: str
    span: Span
    file: str = "Dockerfile"

    def __str__(self) -> str:
        return f"{self.file}:{self.span.line}: {self.rule}: {self.message}"


@dataclass(frozen=True)
class Stage:
    """One `FROM` and the instructions up to the next."""

    index: int
    name: str
    from_: From
    commands: tuple[Instruction, ...]

    @property
    def base(self) -> str:
        return self.from_.base

    @property
    def platform(self) -> str:
        return self.from_.platform


@dataclass(frozen=True)
class ParsedDockerfile:
    """Typed stages plus the ARGs before the first FROM."""

    file: str
    stages: tuple[Stage, ...]
    meta_args: tuple[Arg, ...]
    directives: tuple = ()
    escape: str = "\\"
    warnings: tuple[Warning, ...] = ()


def parse_dockerfile(text: str, file: str = "Dockerfile") -> ParsedDockerfile:
    """The typed stages of a Dockerfile (see `builder.frontend.instructions`)."""
    ast = parse(text, file)
    meta: list[Arg] = []
    stages: list[tuple[From, list[Instruction]]] = []
    warnings = [Warning(rule, msg, Span(line), file) for line, rule, msg in ast.warnings]
    seen: dict[str, int] = {}
    for node in ast.nodes:
        inst = typed(node, file)
        if isinstance(inst, From):
            if inst.name and inst.name in seen:
                warnings.append(
                    Warning(
                        "DuplicateStageName",
                        f'Duplicate stage name "{inst.name}", stage names should be unique',
                        inst.span,
                        file,
                    )
                )
            if inst.name:
                seen.setdefault(inst.name, len(stages))
            stages.append((inst, []))
        elif not stages:
            if not isinstance(inst, Arg):
                raise DockerfileError(
                    "no build stage in current context: the first instruction "
                    "must be FROM (only ARG may come before it)",
                    inst.span,
                    file,
                    inst.keyword,
                )
            meta.append(inst)
        else:
            stages[-1][1].append(inst)
    if not stages:
        raise DockerfileError(
            "FROM missing: no build stage in the Dockerfile",
            meta[-1].span if meta else Span(1),
            file,
        )
    warnings = _apply_check_directive(ast.directives, warnings, file)
    return ParsedDockerfile(
        file,
        tuple(Stage(i, f.name, f, tuple(cmds)) for i, (f, cmds) in enumerate(stages)),
        tuple(meta),
        ast.directives,
        ast.escape,
        tuple(warnings),
    )


def _apply_check_directive(directives, warnings: list[Warning], file: str) -> list[Warning]:
    """`# check=skip=Rule1,Rule2;error=true`, as BuildKit: skipped rules (or `all`) are
    dropped, and `error=true` turns what is left into an error."""
    spec = next((d.value for d in directives if d.name == "check"), "")
    skip: set[str] = set()
    error = False
    for part in spec.split(";"):
        key, _, value = part.strip().partition("=")
        if key.strip() == "skip":
            skip |= {v.strip() for v in value.split(",")}
        elif key.strip() == "error":
            error = value.strip().lower() == "true"
    kept = [w for w in warnings if "all" not in skip and w.rule not in skip]
    if error and kept:
        first = kept[0]
        raise DockerfileError(
            f"lint {first.rule}: {first.message} (check=error=true)", first.span, file
        )
    return kept
