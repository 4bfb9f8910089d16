"""Build outputs beyond the store tag: `--output type=oci|docker,dest=FILE` archives
(through store.archive) and `--push` / `--output type=registry` (registry_client)."""

from __future__ import annotations

from typing import Any

from builder.errors import BuildError


class OutputError(BuildError):
    exit_code = 1


def emit(ctx: Any, result: Any) -> None:
    opts = ctx.opts
    for out in opts.outputs:
        typ = out.get("type")
        if typ in ("oci", "docker"):
            _archive(ctx, result, typ, out["dest"])
    if opts.push:
        names = list(result.tags) + [o["name"] for o in opts.outputs if o.get("name")]
        for name in dict.fromkeys(names):
            _push(ctx, result, name)


def _archive(ctx: Any, result: Any, fmt: str, dest: str) -> None:
    from store import archive

    vid = ctx.progress.new_id()
    ctx.progress.step_started(vid, "", "", f"exporting to {fmt} image format {dest}")
    name = result.tags[0] if result.tags else str(result.image_id)
    try:
        archive.save(ctx.store, [name], dest, fmt=fmt)
    except Exception as e:  # noqa: BLE001 - one line for the user
        ctx.progress.step_error(vid, str(e))
        raise OutputError(f"--output type={fmt},dest={dest}: {e}") from None
    ctx.progress.step_done(vid, 0.0)


def _push(ctx: Any, result: Any, name: str) -> None:
    from registry_client.push import push_image

    vid = ctx.progress.new_id()
    ctx.progress.step_started(vid, "", "", f"pushing {name}")
    kw: dict[str, Any] = {}
    if ctx.opts.insecure_registries:
        from registry_client.client import RegistryClient

        kw["client"] = RegistryClient(insecure=tuple(ctx.opts.insecure_registries))
    from builder.engine.sources import TransferProgress

    try:
        push_image(ctx.store, result.manifest, name, progress=TransferProgress(ctx, vid), **kw)
    except Exception as e:
        ctx.progress.step_error(vid, str(e))
        raise
    ctx.progress.step_done(vid, 0.0)
