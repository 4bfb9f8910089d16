"""Pitfalls visible in the files of the layers: files deleted by a later layer, chmod/
chown in their own RUN (duplicating files), junk from a context without .dockerignore,
build tools left in the final image, and ADD of a URL."""

from __future__ import annotations

import os
import re

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
    where,
)
from store.oci.tar import REG

DELETED = CatalogEntry(
    "deleted-later",
    "Files created in one layer and deleted in a later one",
    Fix(
        "Create and delete temporary files in the same RUN (or in a build stage): a later "
        "delete hides the files but the earlier layer still ships them.",
        "RUN wget -O /tmp/src.tgz $URL && tar -xzf /tmp/src.tgz -C /opt\nRUN rm /tmp/src.tgz",
        "RUN wget -O /tmp/src.tgz $URL && tar -xzf /tmp/src.tgz -C /opt && rm /tmp/src.tgz",
    ),
    "bytes: every version of the deleted files",
)

CHMOD = CatalogEntry(
    "chmod-own-layer",
    "chmod/chown in a RUN of its own duplicates the files",
    Fix(
        "Set mode and owner while copying (COPY --chmod/--chown) or in the RUN that made "
        "the files: a metadata change copies each whole file into a new layer.",
        "COPY app /app\nRUN chmod -R 755 /app",
        "COPY --chmod=755 app /app",
    ),
    "bytes: the duplicated file contents",
)

IGNORE = CatalogEntry(
    "no-dockerignore",
    "Big context without .dockerignore (.git, node_modules, build outputs)",
    Fix(
        "Add a .dockerignore so VCS data, dependencies and build outputs stay out of the "
        "context and the image.",
        "# no .dockerignore\nCOPY . /app",
        "# .dockerignore\n.git\nnode_modules\ndist\nbuild\n__pycache__\n\nCOPY . /app",
    ),
    "bytes: files under .git, node_modules and build outputs copied into the image",
)

TOOLS = CatalogEntry(
    "build-tools",
    "Build tools left in the final image",
    Fix(
        "Build in a stage of its own and copy only the result into a slim final stage.",
        "FROM debian\nRUN apt-get install -y gcc make && make -C /src\n",
        "FROM debian AS build\nRUN apt-get install -y gcc make && make -C /src\n"
        "FROM debian\nCOPY --from=build /src/app /usr/local/bin/app",
    ),
    "bytes: compiler and build-tool files in the final image",
)

ADD_URL = CatalogEntry(
    "add-url",
    "ADD of a URL, or of an archive that should be fetched and extracted in one RUN",
    Fix(
        "Fetch, verify, extract and delete in one RUN: ADD keeps the download in its own "
        "layer and re-downloads on every build without a checksum.",
        "ADD https://example.com/tool.tgz /tmp/\nRUN tar -xzf /tmp/tool.tgz -C /opt",
        "RUN wget -O /tmp/tool.tgz https://example.com/tool.tgz \\\n"
        " && tar -xzf /tmp/tool.tgz -C /opt && rm /tmp/tool.tgz",
    ),
    "bytes: the ADD layer",
)

JUNK = re.compile(
    r"(^|/)(\.git|node_modules|__pycache__|dist|build|target|\.venv|\.tox|"
    r"\.pytest_cache|\.mypy_cache)/"
)
TOOL_FILES = re.compile(
    r"^usr/(local/)?bin/(gcc|g\+\+|cc|c\+\+|cpp|clang|clang\+\+|make|cmake|ninja|go|gofmt|"
    r"rustc|cargo|javac|mvn|gradle|ld|ld\.bfd|ld\.gold|as)(-[\d.]+)?$|"
    r"^usr/(lib|libexec)/gcc/|^usr/local/go/"
)
_CHMOD = re.compile(r"^(sudo\s+)?(chmod|chown|chgrp)\b")


@check(DELETED)
def deleted_later(ctx: Context) -> list[Finding]:
    pairs: dict[tuple[int, int], list[int]] = {}
    base = {li.index for li in ctx.layers if li.base}
    for vs in ctx.tree.versions.values():
        if all(s >= 0 for _, s in vs):
            continue
        pending: list[tuple[int, int]] = []
        for layer, size in vs:
            if size >= 0:
                pending.append((layer, size))
                continue
            for c, sz in pending:
                if layer in base and c in base:
                    continue
                acc = pairs.setdefault((c, layer), [0, 0])
                acc[0] += sz
                acc[1] += 1
            pending = []
    out = []
    for (c, d), (nbytes, nfiles) in sorted(pairs.items()):
        cs, ds = ctx.layers[c].step, ctx.layers[d].step
        out.append(
            finding(
                DELETED,
                lines_of(cs, ds),
                nbytes,
                f"{counted(nfiles, 'file')} ({human(nbytes)}) made by {where(cs, c)} "
                f"are deleted by {where(ds, d)} but still ship in the earlier layer",
                layers=(c, d),
            )
        )
    return out


@check(CHMOD)
def chmod_own_layer(ctx: Context) -> list[Finding]:
    out = []
    for li in ctx.user_layers():
        st = ctx.tree.layers[li.index]
        s = li.step
        if st.same_content_bytes == 0 or s is None or s.keyword != "RUN":
            continue
        if not any(_CHMOD.match(c) for c in commands(s.args)):
            continue
        origin = []
        for p in st.same_content_paths:
            vs = [v for v in ctx.tree.versions.get(p, []) if v[0] < li.index and v[1] >= 0]
            if vs:
                origin.append(ctx.layers[vs[-1][0]].step)
        out.append(
            finding(
                CHMOD,
                lines_of(s, *origin),
                st.same_content_bytes,
                f"line {s.line} changes only metadata, copying "
                f"{counted(st.same_content, 'file')} ({human(st.same_content_bytes)}) "
                f"into a new layer",
                layers=(li.index,),
            )
        )
    return out


def context_junk_bytes(context_dir: str) -> int:
    """Bytes under .git, node_modules and build outputs in a build context that has no
    .dockerignore (0 when it has one): what every build sends and hashes for nothing."""
    if os.path.exists(os.path.join(context_dir, ".dockerignore")):
        return 0
    total = 0
    for dirpath, dirnames, filenames in os.walk(context_dir):
        rel = os.path.relpath(dirpath, context_dir).replace(os.sep, "/")
        if rel == "." or not JUNK.search(rel + "/"):
            continue
        for n in filenames:
            try:
                total += os.lstat(os.path.join(dirpath, n)).st_size
            except OSError:
                pass
        dirnames.sort()
    return total


@check(IGNORE)
def no_dockerignore(ctx: Context) -> list[Finding]:
    out = []
    for s in ctx.final_steps():
        li = ctx.layer_of(s)
        if li is None or not copies_whole_context(s):
            continue
        nbytes = ctx.visible_bytes(li.index, lambda p: JUNK.search(p) is not None)
        where = "into the image"
        if nbytes == 0 and ctx.context_dir:
            nbytes = context_junk_bytes(ctx.context_dir)
            where = "with the build context (no .dockerignore)"
        if nbytes == 0:
            continue
        out.append(
            finding(
                IGNORE,
                lines_of(s),
                nbytes,
                f"line {s.line} copies {human(nbytes)} of .git, node_modules or "
                f"build outputs {where}",
                layers=(li.index,),
            )
        )
    return out


@check(TOOLS)
def build_tools(ctx: Context) -> list[Finding]:
    per: dict[int, int] = {}
    user = {li.index for li in ctx.user_layers()}
    for p, rec in ctx.tree.visible.items():
        if rec[6] in user and rec[0] == REG and TOOL_FILES.search(p):
            per[rec[6]] = per.get(rec[6], 0) + rec[1]
    out = []
    for layer, nbytes in sorted(per.items()):
        s = ctx.layers[layer].step
        out.append(
            finding(
                TOOLS,
                lines_of(s),
                nbytes,
                f"{where(s, layer)} leaves {human(nbytes)} of compilers/build tools in the "
                f"final image; build in a separate stage",
                layers=(layer,),
            )
        )
    return out


@check(ADD_URL)
def add_url(ctx: Context) -> list[Finding]:
    out = []
    for s in ctx.steps:
        if s.keyword != "ADD":
            continue
        urls = [
            u for w in s.words()[:-1] if re.match(r"(https?|git)://|git@", u := ctx.expand(s, w))
        ]
        if not urls:
            continue
        li = ctx.layer_of(s)
        nbytes = li.files_size if li is not None else 0
        out.append(
            finding(
                ADD_URL,
                lines_of(s),
                nbytes,
                f"line {s.line} ADDs {urls[0]} ({human(nbytes)} in its own layer)",
                layers=(li.index,) if li else (),
            )
        )
    return out
