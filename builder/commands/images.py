"""`pybuild images`: list the tagged (and untagged) images in the store."""

from __future__ import annotations

import argparse
import json
from typing import TYPE_CHECKING

from store.errors import InvalidReference, StoreError

if TYPE_CHECKING:
    from typing import TypedDict

    from store.oci.reference import Reference

    class _Row(TypedDict):
        """One listed image (and the `--json` object)."""

        repository: str
        tag: str
        id: str
        digest: str
        created: str | None
        size: int


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("-q", "--quiet", action="store_true", help="only show image IDs")
    p.add_argument("--digests", action="store_true", help="show manifest digests")
    p.add_argument("--json", action="store_true", help="one JSON object per image")
    p.add_argument("repository", nargs="?", help="only images of this repository")


def run(args: argparse.Namespace) -> int:
    from builder.commands._store_common import human_ago, human_size, store
    from store.image import open_image
    from store.oci.mediatype import ANNOTATION_REF_NAME
    from store.oci.reference import Reference

    s = store()
    rows: list[_Row] = []
    for d in s.refs.entries():
        name = d.annotations.get(ANNOTATION_REF_NAME)
        try:
            ref = Reference.parse(name) if name else None
        except InvalidReference:
            ref = None
        repo, tag = _repo_and_tag(name, ref)
        if args.repository and repo != args.repository:
            continue
        try:
            img = open_image(s, d)
            cfg = img.config()
            size = sum(x.size for x in img.manifest().layers)
            image_id, created = str(img.id), cfg.created
        except StoreError:
            image_id, created, size = "<broken>", None, 0
        rows.append(
            {
                "repository": repo,
                "tag": tag,
                "id": image_id,
                "digest": str(d.digest),
                "created": created,
                "size": size,
            }
        )
    if args.json:
        for r in rows:
            print(json.dumps(r))
        return 0
    if args.quiet:
        seen = []
        for r in rows:
            short = r["id"].removeprefix("sha256:")[:12]
            if short not in seen:
                seen.append(short)
                print(short)
        return 0
    head = (
        ["REPOSITORY", "TAG"]
        + (["DIGEST"] if args.digests else [])
        + ["IMAGE ID", "CREATED", "SIZE"]
    )
    table = [head]
    for r in rows:
        table.append(
            [r["repository"], r["tag"]]
            + ([r["digest"]] if args.digests else [])
            + [r["id"].removeprefix("sha256:")[:12], human_ago(r["created"]), human_size(r["size"])]
        )
    widths = [max(len(row[i]) for row in table) for i in range(len(head))]
    for row in table:
        print("   ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)).rstrip())
    return 0


def _repo_and_tag(name: str | None, ref: Reference | None) -> tuple[str, str]:
    """The REPOSITORY and TAG columns for a tag in index.json, parsed as `ref` ("<none>"
    when absent; a name another tool wrote that does not parse is shown as it is)."""
    if not name:
        return "<none>", "<none>"
    if ref is None:
        return name, "<none>"
    return ref.familiar_name, ref.tag or "<none>"
