"""What a stage has built so far (`StageState`), and the build-wide context every step
reads (`BuildContext`). A finished stage's state is what `FROM stage`, `COPY --from`
and `RUN --mount=from=` use."""

from __future__ import annotations

import threading
from dataclasses import dataclass, field, replace
from typing import Any

import builder
from builder.cache import BuildCache, CacheResult
from builder.engine.options import BuildOptions
from builder.errors import BuildError
from builder.filehash import FileHashCache
from builder.history import entry
from builder.progress import Progress
from store.oci.config import History, ImageConfig
from store.oci.digest import Descriptor, Digest, chain_ids


class BuildAborted(BuildError):
    """Another stage failed; this one stopped between steps."""


@dataclass(frozen=True)
class LayerRef:
    """A layer of a stage's image: its blob descriptor and diff_id."""

    desc: Descriptor
    diff_id: Digest
    source: Any = field(default=None, compare=False, repr=False)  # remote cache (lazy blob)


@dataclass(frozen=True)
class StageState:
    """A stage after its last step: config, layers, cache key and step bookkeeping."""

    config: ImageConfig
    layers: tuple[LayerRef, ...] = ()
    key: str = ""
    step_no: int = 1  # position of the last step (FROM is 1)
    reran: bool = False  # did the last step execute (not a cache hit)?
    cmd_set: bool = False  # CMD seen in this stage (ENTRYPOINT keeps Cmd then)
    last_created: str | None = None
    triggers: tuple[str, ...] = ()  # the base image's ONBUILD, to run first
    base_config: Any = None  # the base image's config JSON (for the triggers)

    @property
    def chain_id(self) -> str | None:
        if not self.layers:
            return None
        return str(chain_ids([lr.diff_id for lr in self.layers])[-1])

    def with_history(
        self,
        created_by: str | None,
        *,
        empty: bool,
        created: str | None,
        line: int,
        end_line: int = 0,
    ) -> StageState:
        if created_by is None:
            return self
        h = entry(
            created_by,
            empty_layer=empty,
            created=created,
            line=line or None,
            end_line=end_line or None,
        )
        return replace(self, config=replace(self.config, history=(*self.config.history, h)))

    def with_result(self, res: CacheResult) -> StageState:
        if res.kind != "layer" or res.layer is None or res.diff_id is None:
            return self
        cfg = replace(self.config, diff_ids=(*self.config.diff_ids, res.diff_id))
        return replace(
            self,
            config=cfg,
            layers=(*self.layers, LayerRef(res.layer, res.diff_id, res.source)),
            last_created=res.created or self.last_created,
        )


@dataclass
class BuildContext:
    """Shared by every stage thread of one build."""

    opts: BuildOptions
    store: Any
    cache: BuildCache
    progress: Progress
    platform: str
    position_prefix: str
    file: str
    epoch_created: str | None  # SOURCE_DATE_EPOCH as RFC 3339, or None
    results: dict[int, StageState] = field(default_factory=dict)
    abort: threading.Event = field(default_factory=threading.Event)
    lock: threading.Lock = field(default_factory=threading.Lock)
    # id(step) -> (AddPlan, staging dir) of an ADD whose URLs were fetched for its cache
    # key: the step, if it runs, copies those very bytes (see copy_step)
    fetched: dict[int, tuple[Any, str]] = field(default_factory=dict)
    plan: Any = None
    futures: dict[int, Any] = field(default_factory=dict)
    context_tree: Any = None
    outcomes: list[Any] = field(default_factory=list)  # inspect.cache_report.StepOutcome
    used_keys: list[str] = field(default_factory=list)  # for --cache-to

    def hashes(self) -> Any:
        """This thread's file-hash cache (sqlite connections are per thread)."""
        local = self.__dict__.setdefault("_local", threading.local())
        fh = getattr(local, "fh", None)
        if fh is None:
            fh = local.fh = FileHashCache(self.store.root)
            with self.lock:
                self.__dict__.setdefault("_all_hashes", []).append(fh)
        return fh

    def drop_fetched(self) -> None:
        """Delete the staging dirs of fetched ADD sources no step used (cache hits)."""
        with self.lock:
            left, self.fetched = list(self.fetched.values()), {}
        if not left:
            return

        for _, staging in left:
            builder.add.discard(staging)

    def hash_stats(self) -> dict[str, int]:
        """Summed counters of the file-hash caches: a no-op rebuild has opens == 0."""
        out = {"hits": 0, "misses": 0, "opens": 0, "bytes_read": 0}
        for fh in self.__dict__.get("_all_hashes", []):
            for k in out:
                out[k] += getattr(fh, k, 0)
        return out

    def wait_stage(self, index: int) -> StageState:
        """The finished state of stage `index` (blocks until that stage is built)."""
        fut = self.futures.get(index)
        if fut is None:
            raise BuildError(f"stage {index} is not part of this build")
        return fut.result()

    def check_abort(self) -> None:
        if self.abort.is_set():
            raise BuildAborted("build aborted: another stage failed")


def history_times(h: tuple[History, ...]) -> str | None:
    for x in reversed(h):
        if x.created:
            return x.created
    return None
