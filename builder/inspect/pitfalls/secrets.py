"""Secrets: ARG/ENV names or values that look like credentials (they stay in the
image config and history), and private-key or credential files in any layer, even
when a later layer deletes them (the earlier layer still ships them)."""

from __future__ import annotations

import re

from builder.inspect.pitfalls.base import (
    CatalogEntry,
    Context,
    Finding,
    Fix,
    check,
    finding,
    human,
    lines_of,
    where,
)

ARG_ENV = CatalogEntry(
    "secret-arg-env",
    "Secret in an ARG or ENV",
    Fix(
        "Pass secrets with a secret mount; ARG and ENV values are recorded in the image "
        "history and config for anyone who pulls it.",
        'ARG NPM_TOKEN\nRUN echo "//registry.npmjs.org/:_authToken=$NPM_TOKEN" > ~/.npmrc '
        "&& npm ci",
        "RUN --mount=type=secret,id=npm_token \\\n"
        "    NPM_TOKEN=$(cat /run/secrets/npm_token) npm ci",
    ),
    "bytes: 0 (the cost is exposure)",
)

FILE = CatalogEntry(
    "secret-file",
    "Private key or credential file in a layer",
    Fix(
        "Never copy keys into the build; mount them for the one step that needs them "
        "(deleting them later does not remove them from the earlier layer).",
        "COPY id_rsa /root/.ssh/id_rsa\nRUN git clone git@host:repo.git && rm /root/.ssh/id_rsa",
        "RUN --mount=type=ssh git clone git@host:repo.git",
    ),
    "bytes: the key files' sizes",
)

SECRET_NAME = re.compile(
    r"(?i)(^|_)(TOKEN|PASSWORD|PASSWD|PASS|SECRET|API_?KEY|ACCESS_KEY|"
    r"PRIVATE_KEY|KEY|CREDENTIALS?)$"
)
SECRET_VALUE = re.compile(
    r"(ghp_|gho_|github_pat_|glpat-|xox[abpr]-|sk_live_|AKIA[0-9A-Z]{16}|"
    r"-----BEGIN [A-Z ]*PRIVATE KEY)"
)


def _pairs(keyword: str, words: list[str], args: str) -> list[tuple[str, str]]:
    if keyword == "ENV" and words and "=" not in words[0]:
        name, _, value = args.strip().partition(" ")  # legacy `ENV NAME value`
        return [(name, value.strip())]
    return [(w.partition("=")[0], w.partition("=")[2]) for w in words if w]


@check(ARG_ENV)
def secret_arg_env(ctx: Context) -> list[Finding]:
    out = []
    for s in ctx.steps:
        if s.keyword not in ("ARG", "ENV"):
            continue
        hits = [
            n
            for n, v in _pairs(s.keyword, s.words(), s.args)
            if SECRET_NAME.search(n) or SECRET_VALUE.search(v)
        ]
        if hits:
            out.append(
                finding(
                    ARG_ENV,
                    lines_of(s),
                    0,
                    f"line {s.line}: {s.keyword} {', '.join(hits)} looks like a "
                    f"secret; its value is kept in the image history/config",
                )
            )
    return out


@check(FILE)
def secret_file(ctx: Context) -> list[Finding]:
    per: dict[int, list] = {}
    user = {li.index for li in ctx.user_layers()}
    for sf in ctx.tree.secrets:
        if sf.layer in user:
            per.setdefault(sf.layer, []).append(sf)
    out = []
    for layer, files in sorted(per.items()):
        s = ctx.layers[layer].step
        deleters: set[int] = set()
        for sf in files:
            vs = ctx.tree.versions.get(sf.path, [])
            deleters.update(li for li, sz in vs if sz < 0 and li > layer)
        nbytes = sum(sf.size for sf in files)
        gone = " (deleted later, still in this layer)" if deleters else ""
        names = ", ".join("/" + sf.path for sf in files[:3])
        out.append(
            finding(
                FILE,
                lines_of(s, *(ctx.layers[d].step for d in deleters)),
                nbytes,
                f"{where(s, layer)} adds {names} ({human(nbytes)}){gone}",
                layers=tuple(sorted({layer, *deleters})),
            )
        )
    return out
