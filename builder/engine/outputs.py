"""Build outputs beyond the store tag: `--output type=oci|docker,dest=FILE` archives
(through store.archive), `type=local,dest=DIR` and `type=tar,dest=FILE|-` (the target
stage's files, export_fs) and `--push` / `--output type=registry` (registry_client); and
the result's metadata as `--metadata-file` writes it (BuildKit's keys)."""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING, Any

from builder.engine import export_fs, layers
from builder.engine.sources import TransferProgress
from builder.errors import BuildError
from registry_client.client import RegistryClient
from registry_client.push import push_image
from store import archive
from store.oci.reference import Reference

if TYPE_CHECKING:
    from builder.engine.runner import BuildResult
    from builder.engine.state import BuildContext


class OutputError(BuildError):
    exit_code = 1


def emit(ctx: BuildContext, result: Any) -> None:
    opts = ctx.opts
    for out in opts.outputs:
        typ = out.get("type")
        if typ in ("oci", "docker"):
            _archive(ctx, result, typ, out["dest"])
        elif typ in ("local", "tar"):
            _filesystem(ctx, typ, out["dest"])
    if opts.push:
        names = list(result.tags) + [o["name"] for o in opts.outputs if o.get("name")]
        for name in dict.fromkeys(names):
            _push(ctx, result, name)


def _archive(ctx: BuildContext, result: Any, fmt: str, dest: str) -> None:
    vid = ctx.progress.new_id()
    ctx.progress.step_started(vid, "", "", f"exporting to {fmt} image format {dest}")
    name = result.tags[0] if result.tags else str(result.image_id)
    try:
        archive.save(ctx.store, [name], dest, fmt=fmt)
    except Exception as e:  # one line for the user
        ctx.progress.step_error(vid, str(e))
        raise OutputError(f"--output type={fmt},dest={dest}: {e}") from None
    ctx.progress.step_done(vid, 0.0)


def _filesystem(ctx: BuildContext, typ: str, dest: str) -> None:
    """The target stage's files, not an image: into a directory or a tar."""

    state = ctx.futures[ctx.plan.target].result()
    vid = ctx.progress.new_id()
    ctx.progress.step_started(
        vid, "", "", f"exporting to {'client directory' if typ == 'local' else 'tar'} {dest}"
    )
    try:
        with layers.writable(ctx.store, state if state.layers else None, "export") as active:
            if typ == "local":
                export_fs.to_dir(str(active.merged), Path(dest))
            else:
                export_fs.to_tar(str(active.merged), dest)
    except OSError as e:
        ctx.progress.step_error(vid, str(e))
        raise OutputError(f"--output type={typ},dest={dest}: {e.strerror or e}") from None
    ctx.progress.step_done(vid, 0.0)


def _push(ctx: BuildContext, result: Any, name: str) -> None:
    vid = ctx.progress.new_id()
    ctx.progress.step_started(vid, "", "", f"pushing {name}")
    kw: dict[str, Any] = {}
    if ctx.opts.insecure_registries:
        kw["client"] = RegistryClient(insecure=tuple(ctx.opts.insecure_registries))

    try:
        push_image(ctx.store, result.manifest, name, progress=TransferProgress(ctx, vid), **kw)
    except Exception as e:
        ctx.progress.step_error(vid, str(e))
        raise
    ctx.progress.step_done(vid, 0.0)


def build_metadata(result: BuildResult) -> dict[str, object]:
    """BuildKit's result keys, as `docker buildx build --metadata-file` writes them."""
    m = result.manifest
    out: dict[str, object] = {
        "buildx.build.ref": f"pybuild/local/{_build_ref()}",
        "containerimage.config.digest": str(result.image_id),
        "containerimage.descriptor": {
            "mediaType": m.media_type,
            "digest": str(m.digest),
            "size": m.size,
        },
        "containerimage.digest": str(m.digest),
    }
    if result.tags:
        out["image.name"] = ",".join(str(Reference.parse(t)) for t in result.tags)
    return out


def _build_ref() -> str:
    """A build's id as BuildKit makes one: 25 characters of [0-9a-z]."""
    n = int.from_bytes(os.urandom(16), "big")
    digits = "0123456789abcdefghijklmnopqrstuvwxyz"
    return "".join(digits[(n // 36**i) % 36] for i in range(25))
