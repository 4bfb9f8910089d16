"""Hostile registries, through a proxy in front of the real registry
(tests/robustness/hostile_registry.py). Each pull gets a bounded, clear, one-line
error, and the store stays valid:

- a redirect loop; an endless manifest body and an endless blob body; a wrong
  `Content-Type`; a `Docker-Content-Digest` that disagrees with the body; a token
  endpoint that accepts the connection and never answers.

The library calls use short timeouts (the CLI's defaults are 10 s connect / 60 s read,
which bound the same way, only slower); the CLI runs the cases that need no timeout."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from registry_client import RegistryClient, TransportOptions, pull_image, push_image
from registry_client.errors import RegistryError
from store.errors import StoreError
from store.layout import open_store
from tests.fixtures.registry import unique_repo
from tests.fixtures.registry_images import make_image, put_in_store
from tests.robustness.conftest import pybuild
from tests.robustness.helpers import assert_store_valid
from tests.robustness.hostile_registry import HostileProxy

BOUND = 30.0  # seconds any one pull may take before we call it a hang
EXPECT = {
    "redirect-loop": ("redirect",),
    "endless-manifest": ("limit", "exceeds"),
    "endless-blob": ("size", "digest", "mismatch", "exceeds", "long"),
    "wrong-content-type": ("content type", "media type", "text/html", "Content-Type"),
    "digest-header": ("digest",),
    "token-hang": ("timed out", "timeout", "token"),
}


@pytest.fixture(scope="module")
def pushed(registry) -> Iterator[str]:
    """`repo:1` in the real registry: a small two-layer image."""
    import tempfile

    with tempfile.TemporaryDirectory() as d:
        src = open_store(Path(d) / "src")
        img = make_image([{"a": b"alpha" * 1000}, {"b": b"beta" * 1000}])
        put_in_store(src, img)
        repo = unique_repo("hostile-reg")
        push_image(src, img.manifest.desc, f"{registry.host}/{repo}:1")
        src.close()
        yield f"{repo}:1"


def _pull_bounded(root: Path, ref: str) -> tuple[BaseException | None, float]:
    opts = TransportOptions(
        connect_timeout=2.0, read_timeout=2.0, retries=1, backoff=0.01, max_backoff=0.05
    )
    box: list[BaseException | None] = [None]

    def go() -> None:
        st = open_store(root)
        client = RegistryClient(options=opts)
        try:
            pull_image(st, ref, client=client)
        except BaseException as e:  # handed to the test thread
            box[0] = e
        finally:
            client.close()
            st.close()

    t0 = time.monotonic()
    t = threading.Thread(target=go, daemon=True)
    t.start()
    t.join(BOUND)
    assert not t.is_alive(), f"pull of {ref} hung for {BOUND}s"
    return box[0], time.monotonic() - t0


@pytest.mark.parametrize("mode", sorted(EXPECT))
def test_hostile_registry(mode: str, registry, pushed: str, tmp_path: Path) -> None:
    proxy = HostileProxy(registry.port, mode)
    try:
        err, took = _pull_bounded(tmp_path / "store", f"{proxy.host}/{pushed}")
    finally:
        proxy.stop()
    assert err is not None, f"{mode}: the pull succeeded"
    assert isinstance(err, (RegistryError, StoreError)), f"{mode}: {type(err).__name__}: {err}"
    text = str(err)
    assert "\n" not in text.strip(), text
    assert any(w.lower() in text.lower() for w in EXPECT[mode]), f"{mode}: {text}"
    assert took < (3.0 if mode == "redirect-loop" else BOUND)  # a loop is not retried
    assert_store_valid(tmp_path / "store")
    print(f"{mode}: {took:.1f}s: {text}")


@pytest.mark.parametrize(
    "mode",
    ["redirect-loop", "endless-manifest", "endless-blob", "digest-header", "wrong-content-type"],
)
def test_hostile_registry_cli(mode: str, registry, pushed: str, tmp_path: Path) -> None:
    proxy = HostileProxy(registry.port, mode)
    try:
        t0 = time.monotonic()
        out = pybuild(
            tmp_path / "store",
            "pull",
            "--progress",
            "quiet",
            f"{proxy.host}/{pushed}",
            check=False,
            timeout=BOUND * 4,
        )
        took = time.monotonic() - t0
    finally:
        proxy.stop()
    assert out.returncode == 1, out.stdout + out.stderr
    lines = out.stderr.strip().splitlines()
    assert len(lines) == 1 and "internal error" not in lines[0], out.stderr
    assert took < BOUND * 2
    assert_store_valid(tmp_path / "store")
