"""Pitfalls of step order and cache stability: COPY of the whole context before the
dependency install, ARGs declared early, RUNs whose result drifts without their text
changing, and many small consecutive RUN layers."""

from __future__ import annotations

import re

from builder.inspect.dockerfile import Step
from builder.inspect.pitfalls.base import (
    CatalogEntry,
    Context,
    Finding,
    Fix,
    check,
    commands,
    copies_whole_context,
    counted,
    finding,
    human,
    lines_of,
)

DEP_INSTALL = re.compile(
    r"\b(pip3?\s+install|python3?\s+-m\s+pip\s+install|npm\s+(install|ci)\b|yarn(\s+install)?\b|"
    r"pnpm\s+install|go\s+mod\s+download|bundle\s+install|composer\s+install|poetry\s+install|"
    r"cargo\s+fetch|apt-get\s+install|apk\s+add)"
)

COPY_ALL = CatalogEntry(
    "copy-before-deps",
    "COPY of the whole context before the dependency install",
    Fix(
        "Copy only the dependency manifest, install, then copy the rest: a source edit "
        "then re-runs only the final COPY.",
        "COPY . /app\nRUN pip install -r /app/requirements.txt",
        "COPY requirements.txt /app/\nRUN pip install -r /app/requirements.txt\nCOPY . /app",
    ),
    "steps: dependency installs re-run on every source edit; bytes: their layer sizes",
)

EARLY_ARG = CatalogEntry(
    "early-arg",
    "ARG declared early: changing it re-runs every later step",
    Fix(
        "Declare the ARG right before the first step that uses it; every RUN after an ARG "
        "sees it, so a new value misses the cache from there on.",
        "ARG VERSION\nRUN install-tools\nRUN build --version=$VERSION",
        "RUN install-tools\nARG VERSION\nRUN build --version=$VERSION",
    ),
    "steps: build steps between the ARG and its first use, re-run when its value changes",
)

UNSTABLE = CatalogEntry(
    "unstable-run",
    "RUN whose result changes while its text does not",
    Fix(
        "Pin what the step fetches (versions, digests, a release URL), so the cache key "
        "changes exactly when the result should.",
        "RUN apt-get upgrade -y\nRUN curl -fsSLo /t.tgz https://example.com/tool/latest",
        "RUN curl -fsSLo /t.tgz https://example.com/tool/v1.4.2/tool.tgz \\\n"
        '    && echo "<sha256>  /t.tgz" | sha256sum -c -',
    ),
    "bytes: the step's layer, stale or different on every cold build; steps: later steps",
)

MANY = CatalogEntry(
    "many-layers",
    "Many small layers from consecutive RUNs",
    Fix(
        "Join consecutive RUNs with && into one step: fewer layers to pull, mount and cache.",
        "RUN mkdir /a\nRUN touch /a/x\nRUN chmod 600 /a/x",
        "RUN mkdir /a \\\n && touch /a/x \\\n && chmod 600 /a/x",
    ),
    "steps: the layers that could be merged away",
)

MANY_MIN_RUN = 5
SMALL_LAYER = 1 << 20

UNSTABLE_PATTERNS = (
    re.compile(r"\bapt(-get)?\s+(-\S+\s+)*(dist-|full-)?upgrade\b"),
    re.compile(r"\bapk\s+(-\S+\s+)*upgrade\b"),
    re.compile(r"\b(yum|dnf|microdnf)\s+(-\S+\s+)*(update|upgrade)\b"),
    re.compile(r"\b(curl|wget)\b.*\bhttps?://\S*\blatest\b"),
    re.compile(r"\bpip3?\s+install\s+(.*\s)?(-U|--upgrade)\b"),
    re.compile(r"@latest\b"),
)


@check(COPY_ALL)
def copy_before_deps(ctx: Context) -> list[Finding]:
    out = []
    stages = sorted({s.stage for s in ctx.steps if s.stage >= 0})
    for st in stages:
        steps = [s for s in ctx.steps if s.stage == st]
        first = next((i for i, s in enumerate(steps) if copies_whole_context(s)), None)
        if first is None:
            continue
        installs = [
            s for s in steps[first + 1 :] if s.keyword == "RUN" and DEP_INSTALL.search(s.args)
        ]
        if not installs:
            continue
        nbytes = sum(li.files_size for s in installs if (li := ctx.layer_of(s)) is not None)
        copy = steps[first]
        out.append(
            finding(
                COPY_ALL,
                lines_of(copy, *installs),
                nbytes,
                f"line {copy.line} copies the whole context before the dependency "
                f"install on line {installs[0].line}: every source edit re-runs "
                f"{counted(len(installs), 'install step')} ({human(nbytes)})",
                steps=len(installs),
            )
        )
    return out


def _arg_names(s: Step) -> list[tuple[str, str]]:
    return [(w.partition("=")[0], w.partition("=")[2]) for w in s.words() if w]


def _uses(s: Step, name: str, value: str) -> bool:
    """`$NAME`/`${NAME}` in the text, or (history records expanded text, e.g. ADD) the
    value the ARG had, when it is distinctive enough."""
    if re.search(rf"\$(\{{)?{re.escape(name)}\b", s.args):
        return True
    return len(value) >= 6 and value in s.args


@check(EARLY_ARG)
def early_arg(ctx: Context) -> list[Finding]:
    out = []
    for st in sorted({s.stage for s in ctx.steps if s.stage >= 0}):
        steps = [s for s in ctx.steps if s.stage == st]
        for i, a in enumerate(steps):
            if a.keyword != "ARG":
                continue
            for name, value in _arg_names(a):
                later = steps[i + 1 :]
                first_run = next((j for j, s in enumerate(later) if s.keyword == "RUN"), None)
                if first_run is None:
                    continue
                use = next((j for j, s in enumerate(later) if _uses(s, name, value)), len(later))
                wasted = [s for s in later[first_run:use] if s.makes_layer]
                if not wasted:
                    continue
                out.append(
                    finding(
                        EARLY_ARG,
                        lines_of(a),
                        0,
                        f"ARG {name} on line {a.line} is declared "
                        f"{counted(len(wasted), 'step')} before its first "
                        f"use; a new value re-runs them",
                        steps=len(wasted),
                    )
                )
    return out


@check(UNSTABLE)
def unstable_run(ctx: Context) -> list[Finding]:
    out = []
    for s in ctx.steps:
        if s.keyword != "RUN":
            continue
        hits = [c for c in commands(s.args) if any(p.search(c) for p in UNSTABLE_PATTERNS)]
        if not hits:
            continue
        li = ctx.layer_of(s)
        after = [t for t in ctx.steps if t.stage == s.stage and t.line > s.line and t.makes_layer]
        nbytes = li.files_size if li is not None else 0
        out.append(
            finding(
                UNSTABLE,
                lines_of(s),
                nbytes,
                f"line {s.line} runs `{hits[0][:60]}`: its result drifts while the "
                f"cache keeps the old {human(nbytes)} layer",
                steps=len(after),
            )
        )
    return out


@check(MANY)
def many_layers(ctx: Context) -> list[Finding]:
    out: list[Finding] = []
    group: list[Step] = []

    def flush() -> None:
        if len(group) >= MANY_MIN_RUN:
            out.append(
                finding(
                    MANY,
                    lines_of(*group),
                    0,
                    f"lines {group[0].line}-{group[-1].line}: {len(group)} "
                    f"consecutive small RUN layers could be one",
                    steps=len(group) - 1,
                )
            )
        group.clear()

    for s in ctx.final_steps():
        if s.keyword == "RUN":
            li = ctx.layer_of(s)
            if li is not None and li.files_size < SMALL_LAYER:
                group.append(s)
                continue
        if s.makes_layer or s.keyword == "FROM":
            flush()
    flush()
    return out
