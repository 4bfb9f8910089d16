"""Two stores standing for two CI machines, and readers for what a build reported."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

from tests.fixtures.build import run_build
from tests.integration.build import helpers as h

EPOCH = 1700000000
SLEEP = 4  # seconds each RUN of the three-stage Dockerfile sleeps

THREE_STAGES = f"""\
FROM busybox AS deps
RUN sleep {SLEEP} && echo deps > /deps.txt
FROM busybox AS build
WORKDIR /src
COPY src/ /src/
RUN sleep {SLEEP} && cat /src/*.txt > /built.txt
FROM deps AS final
COPY --from=build /built.txt /app/built.txt
RUN sleep {SLEEP} && ls /app /deps.txt > /app/list.txt
ENV MODE=prod
CMD ["cat", "/app/built.txt"]
"""


def make_context(path: Path, extra: str = "") -> Path:
    (path / "src").mkdir(parents=True)
    for name, text in (("a.txt", "alpha\n"), ("b.txt", "beta\n" + extra)):
        p = path / "src" / name
        p.write_text(text)
        p.chmod(0o644)
    (path / "src").chmod(0o755)
    return path


def machine(tmp: Path, name: str, busybox: Any, monkeypatch: Any) -> tuple[Path, Path]:
    """An empty store with only the base image (the same bytes on every machine)."""
    monkeypatch.setenv("SOURCE_DATE_EPOCH", str(EPOCH))
    root = tmp / f"store-{name}"
    busybox.load(root)
    return root, make_context(tmp / f"ctx-{name}")


def build(root: Path, ctx: Path, df: str = THREE_STAGES, **kw: Any) -> tuple[Any, list, float]:
    """(BuildResult, json events, seconds)."""
    kw.setdefault("tags", ["app:1"])
    t0 = time.monotonic()
    res, out = run_build(root, ctx, df, progress="json", source_date_epoch=EPOCH, **kw)
    return res, h.events(out), time.monotonic() - t0


def steps(events: list) -> list[dict[str, Any]]:
    """step_started events of Dockerfile steps (not FROM, pulls, exports), each with
    `cached` (a step_cached followed) set."""
    cached = {e["id"] for e in events if e["event"] == "step_cached"}
    out = []
    for e in events:
        if e["event"] != "step_started" or e["text"].startswith(("FROM", "pull", "exporting")):
            continue
        if not e["position"]:
            continue
        out.append({**e, "cached": e["id"] in cached})
    return out


def remote_hit(step: dict[str, Any], ref: str) -> bool:
    return step["cached"] and step["reason"] == f"CACHED (from registry {ref})"


def executed(events: list) -> list[str]:
    return [s["text"] for s in steps(events) if not s["cached"]]


def messages(events: list) -> list[str]:
    return [e["text"] for e in events if e["event"] == "message"]


def cache_doc(registry_host: str, repo_tag: str) -> dict[str, Any]:
    """The cache config blob (rows) of a cache manifest, read straight from the registry."""
    import requests

    repo, tag = repo_tag.rsplit(":", 1)
    base = f"http://{registry_host}/v2/{repo}"
    m = requests.get(
        f"{base}/manifests/{tag}",
        timeout=30,
        headers={"Accept": "application/vnd.oci.image.manifest.v1+json"},
    ).json()
    cfg = requests.get(f"{base}/blobs/{m['config']['digest']}", timeout=30)
    return {"manifest": m, "config": json.loads(cfg.content)}


QUICK = THREE_STAGES.replace(f"sleep {SLEEP} && ", "")  # the same graph, no sleeps
BUILD_STAGE = ["WORKDIR /src", "COPY src/ /src/", "RUN cat /src/*.txt > /built.txt"]
FINAL_CHAIN = [
    "RUN echo deps > /deps.txt",
    "COPY --from=build /built.txt /app/built.txt",
    "RUN ls /app /deps.txt > /app/list.txt",
]


def uploads(log: list) -> list[str]:
    """Blob upload requests (POST/PATCH/PUT under /blobs/uploads/) a proxy saw."""
    return [p for m, p, _, _ in log if m in ("POST", "PATCH", "PUT") and "/blobs/uploads/" in p]
