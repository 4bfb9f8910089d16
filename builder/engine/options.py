"""`BuildOptions`: everything one build needs, parsed from the CLI (builder.commands.build)
or made by tests and benches directly."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path


@dataclass(frozen=True)
class BuildOptions:
    """Everything one `pybuild build` was asked to do (the CLI's flags, parsed)."""

    context: Path
    dockerfile_text: str
    dockerfile_name: str = "Dockerfile"
    tags: list[str] = field(default_factory=list)
    build_args: dict[str, str] = field(default_factory=dict)
    target: str | None = None
    no_cache: bool = False
    pull: bool = False
    platform: str | None = None
    labels: dict[str, str] = field(default_factory=dict)
    progress: str = "plain"
    network: str = "default"
    memory: int | None = None
    cpus: float | None = None
    pids_limit: int | None = None
    secrets: dict[str, dict[str, str]] = field(default_factory=dict)
    cache_from: list[str] = field(default_factory=list)
    cache_to: list[str] = field(default_factory=list)
    outputs: list[dict[str, str]] = field(default_factory=list)
    push: bool = False
    insecure_registries: list[str] = field(default_factory=list)
    source_date_epoch: int | None = None
    store_root: Path | None = None
    dockerfile_path: Path | None = None  # for <Dockerfile>.dockerignore; None for stdin
    compression: str | None = "gzip"  # new layers: gzip | zstd | None (plain tar)
    force_compression: bool = False  # every layer of the result in `compression`
    extra_hosts: tuple[tuple[str, str], ...] = ()  # --add-host, in RUN's /etc/hosts
    shm_size: int | None = None  # --shm-size: RUN's /dev/shm; None is 64 MiB
    ulimits: tuple[tuple[str, int, int], ...] = ()  # --ulimit (name, soft, hard)
    no_cache_filter: frozenset[str] = frozenset()  # stages built without the cache
    metadata_file: Path | None = None  # --metadata-file: BuildKit's result keys
    annotations: dict[str, str] = field(default_factory=dict)  # --annotation (manifest)
