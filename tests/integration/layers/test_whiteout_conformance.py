"""The OCI whiteout cases (conformance/oci-image-spec/whiteout/cases.json) on real
overlayfs: the lower layer and the case's layer are unpacked into snapshots, stacked,
mounted, and the merged tree must be the expected set."""

from __future__ import annotations

import json
import os
import tarfile
from pathlib import Path

import pytest

from store.errors import UnsafeArchiveEntry
from store.layout import open_store
from tests.fixtures.common import conformance_dir
from tests.integration.layers.helpers import paths, put_layer, tar_of

CASES = json.loads((conformance_dir() / "oci-image-spec/whiteout/cases.json").read_text())


@pytest.mark.root
@pytest.mark.parametrize("case", CASES, ids=[c["id"] for c in CASES])
def test_whiteout_case_on_overlayfs(tmp_path: Path, case: dict) -> None:
    store = open_store(tmp_path / "store")
    sn = store.snapshots
    lower = put_layer(store, tar_of(case["lower"], "lower:"))
    upper = put_layer(store, tar_of(case["upper"], "upper:"), "zstd")
    if case["expected"] == "error":
        with pytest.raises(UnsafeArchiveEntry) as info:
            sn.ensure_layers([lower[0], upper[0]], [lower[1], upper[1]])
        assert ".wh." in info.value.entry
        assert [s.chain_id for s in sn.list()] == [lower[1]]  # the bad layer left nothing
        assert not [p for p in os.listdir(sn.root) if p.startswith("tmp-")]
        return
    top = sn.ensure_layers([lower[0], upper[0]], [lower[1], upper[1]])
    with sn.prepare(top) as active:
        got = paths(active.merged)
        assert got == set(case["expected"])
        for p in got:
            if not p.endswith("/"):
                source = "upper:" if p in case["upper"] else "lower:"
                assert (active.merged / p).read_text() == source + p
    sn.remove(top)
    assert sn.list() == [] and sn.verify() == []


@pytest.mark.root
def test_representing_changes_builds_the_expected_changeset(
    tmp_path: Path, conformance: Path
) -> None:
    case = next(c for c in CASES if c["id"] == "representing-changes")
    store = open_store(tmp_path / "store")
    sn = store.snapshots
    lower = put_layer(store, tar_of(case["lower"], "lower:"))
    base = sn.ensure_layers([lower[0]], [lower[1]])
    before, after = set(case["lower"]), set(case["snapshot_after_changes"])
    modified = {p.lstrip("/") for kind, p in case["expected_changeset"] if kind == "Modified"}
    active = sn.prepare(base)
    m = active.merged
    for p in sorted(before - after, reverse=True):
        (m / p).rmdir() if p.endswith("/") else (m / p).unlink()
    for p in sorted(after - before):
        (m / p).mkdir() if p.endswith("/") else (m / p).write_text("new")
    for p in modified:
        (m / p).write_text("changed")
    assert paths(m) == after
    res = sn.commit(active, compression="gzip", source_date_epoch=0)
    with tarfile.open(store.blobs.path(res.descriptor.digest)) as t:
        names = [i.name + ("/" if i.isdir() else "") for i in t.getmembers()]
    changes = set()
    for n in names:
        head, _, basename = n.rstrip("/").rpartition("/")
        if basename.startswith(".wh."):
            changes.add(("Deleted", "/" + (head + "/" if head else "") + basename[4:]))
        elif n not in before:
            changes.add(("Added", "/" + n))
        elif not n.endswith("/"):
            changes.add(("Modified", "/" + n))
    assert changes == {tuple(c) for c in case["expected_changeset"]}
    # the spec's layer, apart from parent dirs it leaves implicit
    assert set(case["upper"]) <= set(names)
    assert all(n.endswith("/") and n in before for n in set(names) - set(case["upper"]))
    sn.remove(res.chain_id)
    assert [s.chain_id for s in sn.list()] == [base]  # our hold from ensure_layers
    sn.remove(base)
    assert sn.list() == [] and sn.verify() == []


@pytest.mark.root
def test_rootless_overlay_form_uses_user_xattrs(tmp_path: Path) -> None:
    """The `userxattr` form (what a rootless mount reads): opaque dirs carry
    user.overlay.opaque, the mount has `userxattr`, and diff reads it back."""
    from store.snapshots import Snapshotter
    from store.whiteout import ROOTLESS_FORMAT

    store = open_store(tmp_path / "store")
    sn = Snapshotter(store, fmt=ROOTLESS_FORMAT)
    case = next(c for c in CASES if c["id"] == "opaque-whiteout")
    lower = put_layer(store, tar_of(case["lower"], "lower:"))
    upper = put_layer(store, tar_of(case["upper"], "upper:"))
    top = sn.ensure_layers([lower[0], upper[0]], [lower[1], upper[1]])
    diff = sn.get(top).path
    assert os.getxattr(diff / "bin", "user.overlay.opaque") == b"y"
    assert "trusted.overlay.opaque" not in os.listxattr(diff / "bin")
    with sn.prepare(top) as a:
        assert "userxattr" in a.spec.options()
        assert paths(a.merged) == set(case["expected"])
        import shutil

        shutil.rmtree(a.merged / "etc")
        (a.merged / "etc").mkdir()
        res = sn.commit(a)
    with tarfile.open(store.blobs.path(res.descriptor.digest)) as t:
        names = set(t.getnames())
    assert "etc/.wh..wh..opq" in names
    for chain in (res.chain_id, top):
        sn.remove(chain)
