"""A store writer to be SIGKILLed by the crash tests, or run side by side by the
concurrency tests: `python3 -m tests.integration.store_core.worker MODE ROOT [ARG...]`.

It prints "ready" once its imports are done, then works in a loop (put, load, tag)
until killed or until the given number of rounds is done."""

from __future__ import annotations

import io
import os
import sys
from pathlib import Path

from store.archive_load import load
from store.layout import open_store


def main(mode: str, root: str, *args: str) -> None:
    store = open_store(Path(root))
    print("ready", flush=True)
    rounds = int(os.environ.get("WORKER_ROUNDS", "1000000"))
    for i in range(rounds):
        if mode == "put":
            store.blobs.put(io.BytesIO(os.urandom(256 << 10) * 2), "application/octet-stream")
        elif mode == "load":
            for archive in args:
                load(store, archive)
        elif mode == "tag":
            (_, d), *_ = store.refs.list()
            store.refs.set(f"crash/tag{i % 7}:{i}", d)
            store.refs.set_many([(f"many{i % 3}:x", d), (f"many{(i + 1) % 3}:y", d)])
            if i % 2:
                store.refs.delete(f"crash/tag{i % 7}:{i}")
        elif mode == "load-tag":
            name = args[0]
            for archive in args[1:]:
                for loaded, d in load(store, archive):
                    assert loaded is not None
                    store.refs.set(f"{name}/{loaded.replace(':', '-')}:{i}", d)
        else:
            raise SystemExit(f"unknown mode {mode}")


if __name__ == "__main__":
    main(*sys.argv[1:])
