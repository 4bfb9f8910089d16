"""Where stages start and what they read from: base images (from the store, or pulled
through the registry client when missing or with `--pull`, for the stage's platform),
`scratch`, earlier stages; and the root filesystem of a stage or an image for
`COPY --from` and `RUN --mount=from=`."""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import registry_client
from builder import config_ops
from builder.engine import layers
from builder.engine.state import BuildContext, LayerRef, StageState
from builder.errors import BuildError
from store import image as store_image
from store.errors import ImageNotFound, StoreError
from store.oci.platform import Platform

if TYPE_CHECKING:
    from registry_client.progress import ProgressEvent

_pull_lock = threading.Lock()


class BaseImageError(BuildError):
    exit_code = 1


def resolve_image(
    ctx: BuildContext, ref: str, platform: str, *, pull: bool | None = None
) -> tuple[Any, str]:
    """The stored image for `ref` (pulling it when needed); returns (StoredImage,
    manifest digest string)."""
    plat = Platform.parse(platform)
    want_pull = ctx.opts.pull if pull is None else pull
    memo = ctx.__dict__.setdefault("_resolved", {})
    key = (ref, str(plat))
    with _pull_lock:  # two stages on one base pull it once
        if key not in memo:  # one resolution (or failure) per build; --pull pulls once
            try:
                memo[key] = _resolve(ctx, ref, plat, want_pull)
            except BuildError as e:
                memo[key] = e
        got = memo[key]
    if isinstance(got, BaseException):
        raise got
    return got


def _resolve(ctx: BuildContext, ref: str, plat: Platform, want_pull: bool) -> tuple[Any, str]:
    if not want_pull:
        try:
            img = store_image.resolve_image(ctx.store, ref, plat)
            if _platform_ok(img, plat):
                return img, str(img.digest)
        except (ImageNotFound, StoreError):
            pass
    vid = ctx.progress.new_id()
    ctx.progress.step_started(vid, "internal", "", f"pull {ref}")
    try:
        registry_client.pull_image(
            ctx.store, ref, platform=plat, progress=TransferProgress(ctx, vid), **_client_kw(ctx)
        )
    except Exception as e:  # reported as the FROM failure
        ctx.progress.step_error(vid, str(e))
        raise BaseImageError(f"{ref}: {e}") from None
    ctx.progress.step_done(vid, 0.0)
    img = store_image.resolve_image(ctx.store, ref, plat)
    if not _platform_ok(img, plat):
        cfg = img.config()
        raise BaseImageError(f"{ref}: the image is for {cfg.os}/{cfg.architecture}, not {plat}")
    return img, str(img.digest)


def _platform_ok(img: Any, want: Platform) -> bool:
    """A single-platform image (no index) must itself be for the wanted platform."""
    cfg = img.config()
    have = Platform(cfg.os or "linux", cfg.architecture or "", cfg.variant or "")
    return want.matches(have)


def _client_kw(ctx: BuildContext) -> dict[str, Any]:
    if not ctx.opts.insecure_registries:
        return {}

    return {"client": registry_client.RegistryClient(insecure=tuple(ctx.opts.insecure_registries))}


class TransferProgress:
    """A `registry_client.progress.Progress` callback: each blob's bytes become the
    build progress's transfer events for vertex `vid`."""

    def __init__(self, ctx: BuildContext, vid: int) -> None:
        self.ctx, self.vid = ctx, vid

    def __call__(self, ev: ProgressEvent) -> None:
        self.ctx.progress.transfer(self.vid, ev.short or "blob", ev.current, ev.total)


def image_state(img: Any) -> StageState:
    cfg = img.config()
    lrs = tuple(LayerRef(sl.descriptor, sl.diff_id) for sl in img.layers())
    return StageState(
        config=config_ops.inherit(cfg),
        layers=lrs,
        last_created=_last_created(cfg),
        triggers=tuple(cfg.config.on_build or ()),
        base_config=config_ops.with_path(cfg).to_json(),
    )


def _last_created(cfg: Any) -> str | None:
    for h in reversed(cfg.history):
        if h.created:
            return h.created
    return cfg.created


def scratch_state(platform: str) -> StageState:
    return StageState(config=config_ops.scratch_config(Platform.parse(platform)))


def stage_index(ctx: BuildContext, ref: str | int) -> int | None:
    if isinstance(ref, int):
        return ref
    for st in ctx.plan.stages:
        if st.name and st.name.lower() == str(ref).lower():
            return st.index
    if str(ref).isdigit():
        return int(ref)
    return None


@contextlib.contextmanager
def stage_root(ctx: BuildContext, ref: str | int) -> Iterator[str]:
    """A directory with the filesystem of stage `ref` (name or index) or of image `ref`.
    Writes to it are discarded."""
    idx = stage_index(ctx, ref)
    if idx is not None:
        state = ctx.wait_stage(idx)
    else:
        img, _ = resolve_image(ctx, str(ref), ctx.platform)
        state = image_state(img)
    with layers.writable(ctx.store, state if state.layers else None, f"src-{ref}") as active:
        yield str(Path(active.merged))


def source_key(ctx: BuildContext, ref: str | int) -> str:
    """What a `--from` source contributes to a cache key: the stage's final key, or
    the image's manifest digest."""
    idx = stage_index(ctx, ref)
    if idx is not None:
        return ctx.wait_stage(idx).key
    _, digest = resolve_image(ctx, str(ref), ctx.platform)
    return digest
