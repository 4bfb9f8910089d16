"""Snapshotter behaviour on real overlayfs: deep stacks, reference counting,
deterministic commits, SOURCE_DATE_EPOCH, excludes, and failures that leave nothing."""

from __future__ import annotations

import io
import multiprocessing
import os
import tarfile
from pathlib import Path

import pytest

from store import overlay
from store.errors import DigestMismatch, SnapshotNotFound, UnsafeArchiveEntry
from store.layerdiff import DiffOptions, write_layer
from store.layout import open_store
from store.oci.digest import Digest, chain_ids
from tests.integration.layers.helpers import paths, put_layer, tar_of
from tests.unit.layers.hostile import load_corpus


def _layers(store, n: int, prefix: str = "f"):
    descs, diffs = [], []
    for i in range(n):
        d, diff = put_layer(store, tar_of([f"{prefix}{i:03d}", f"dir/{prefix}{i:03d}"], f"{i}:"))
        descs.append(d)
        diffs.append(diff)
    return descs, diffs


@pytest.mark.root
def test_120_layer_image_mounts(tmp_path: Path) -> None:
    store = open_store(tmp_path / "store")
    sn = store.snapshots
    descs, diffs = _layers(store, 120)
    top = sn.ensure_layers(descs, diffs)
    assert top == chain_ids(diffs)[-1]
    with sn.prepare(top) as a:
        assert a.spec.cwd is not None, "120 absolute lowerdirs should not fit one page"
        assert len(a.spec.options()) < overlay.PAGE
        assert overlay.is_mounted(str(a.merged))
        got = paths(a.merged)
        assert {f"f{i:03d}" for i in range(120)} <= got
        assert (a.merged / "dir/f000").read_text() == "0:dir/f000"
        (a.merged / "new").write_text("x")
        res = sn.commit(a, compression="zstd")
    assert len(sn.lowers(res.chain_id)) == 121
    with sn.prepare(res.chain_id) as b:
        assert (b.merged / "new").read_text() == "x" and (b.merged / "f119").exists()
    sn.remove(res.chain_id)
    sn.remove(top)
    assert sn.list() == [] and sn.verify() == []
    assert os.listdir(sn.root / "l") == []


@pytest.mark.root
def test_reference_counted_removal(tmp_path: Path) -> None:
    store = open_store(tmp_path / "store")
    sn = store.snapshots
    descs, diffs = _layers(store, 3)
    other_d, other_diff = put_layer(store, tar_of(["other"]))
    chains = chain_ids(diffs)
    img_a = sn.ensure_layers(descs, diffs)
    img_b = sn.ensure_layers(descs[:2] + [other_d], diffs[:2] + [other_diff])
    assert {s.chain_id: s.refs for s in sn.list()} == {
        chains[0]: 1,
        chains[1]: 2,
        chains[2]: 1,
        img_b: 1,
    }
    active = sn.prepare(img_a)  # an active snapshot holds its parent
    sn.remove(img_a)
    assert sn.get(img_a) is not None and sn.get(img_a).refs == 1
    active.release()
    assert sn.get(img_a) is None and sn.get(chains[1]).refs == 1
    assert not (sn.root / img_a.hex).exists()
    with pytest.raises(SnapshotNotFound):
        sn.remove(img_a)
    sn.remove(img_b)
    assert sn.list() == [] and sn.verify() == []
    with pytest.raises(SnapshotNotFound):
        sn.prepare(img_b)


@pytest.mark.root
def test_commit_is_deterministic_and_dedups(tmp_path: Path) -> None:
    store = open_store(tmp_path / "store")
    sn = store.snapshots
    results = []
    for round_ in range(2):
        with sn.prepare(None) as a:
            (a.merged / "app").mkdir()
            (a.merged / "app/main.py").write_text("print('hi')\n" * 1000)
            os.symlink("main.py", a.merged / "app/link")
            os.link(a.merged / "app/main.py", a.merged / "app/hard")
            os.utime(a.merged / "app/main.py", (2_000_000_000 + round_, 2_000_000_000 + round_))
            # the same upper dir diffed twice, with different thread counts
            outs = []
            for threads in (1, 2):
                buf = io.BytesIO()
                outs.append(
                    write_layer(
                        a.upper, buf, DiffOptions(source_date_epoch=1_700_000_000, threads=threads)
                    )
                )
            assert outs[0] == outs[1]
            results.append(sn.commit(a, source_date_epoch=1_700_000_000))
    assert results[0] == results[1]
    assert results[0].descriptor.digest == outs[0].digest
    assert sn.get(results[0].chain_id).refs == 2  # the second commit reused the first
    sn.remove(results[0].chain_id)
    sn.remove(results[1].chain_id)
    assert sn.list() == [] and sn.verify() == []


@pytest.mark.root
def test_source_date_epoch_clamps_mtimes_and_excludes(tmp_path: Path) -> None:
    store = open_store(tmp_path / "store")
    sn = store.snapshots
    sde = 1_600_000_000
    with sn.prepare(None) as a:
        (a.merged / "etc").mkdir()
        for name, mtime in (("old", 1_000_000_000), ("new", 1_900_000_000)):
            (a.merged / name).write_text(name)
            os.utime(a.merged / name, (mtime, mtime))
        for name in ("hosts", "resolv.conf", "keep"):
            (a.merged / "etc" / name).write_text("x")
        res = sn.commit(a, source_date_epoch=sde, exclude=["/etc/hosts", "/etc/resolv.conf"])
    with tarfile.open(store.blobs.path(res.descriptor.digest)) as t:
        members = {m.name: m for m in t.getmembers()}
    assert members["old"].mtime == 1_000_000_000
    assert members["new"].mtime == sde and members["etc"].mtime <= sde
    assert "etc/hosts" not in members and "etc/resolv.conf" not in members and "etc/keep" in members
    assert all(m.uname == "" and m.gname == "" for m in members.values())
    info = sn.get(res.chain_id)
    assert sorted(os.listdir(info.path / "etc")) == ["keep"]  # the snapshot matches the layer
    sn.remove(res.chain_id)


@pytest.mark.root
def test_bad_layers_leave_nothing_behind(tmp_path: Path) -> None:
    store = open_store(tmp_path / "store")
    sn = store.snapshots
    good, good_diff = put_layer(store, tar_of(["a"]))
    wrong = Digest.of_bytes(b"not the diff id")
    with pytest.raises(DigestMismatch):
        sn.ensure_layers([good], [wrong])
    corpus = load_corpus()
    base = tmp_path / "base"
    base.mkdir()
    (base / "outside").mkdir()
    (base / "outside/sentinel").write_text("keep")
    for case in corpus.hostile_tars(base / "outside")[:6]:
        bad, bad_diff = put_layer(store, case.data)
        with pytest.raises(UnsafeArchiveEntry):
            sn.ensure_layers([good, bad], [good_diff, bad_diff])
    assert os.listdir(base / "outside") == ["sentinel"]
    assert [s.chain_id for s in sn.list()] == [good_diff]
    assert set(os.listdir(sn.root)) == {"empty", "l", good_diff.hex}
    assert sn.verify() == []
    sn.remove(good_diff)  # never held by a caller: ensure_layers failed, refs is 0
    os.mkdir(sn.root / "stray")
    assert any("stray" in p for p in sn.verify())


def _ensure_in_child(root: str, descs, diffs, q) -> None:
    store = open_store(Path(root))
    q.put(str(store.snapshots.ensure_layers(descs, diffs)))


@pytest.mark.root
def test_concurrent_processes_unpack_the_same_layers(tmp_path: Path) -> None:
    store = open_store(tmp_path / "store")
    descs, diffs = _layers(store, 8)
    ctx = multiprocessing.get_context("spawn")
    q = ctx.Queue()
    procs = [
        ctx.Process(target=_ensure_in_child, args=(str(store.root), descs, diffs, q))
        for _ in range(3)
    ]
    for p in procs:
        p.start()
    for p in procs:
        p.join(120)
        assert p.exitcode == 0
    tops = {q.get(timeout=5) for _ in procs}
    assert tops == {str(chain_ids(diffs)[-1])}
    sn = store.snapshots
    assert sn.get(chain_ids(diffs)[-1]).refs == 3 and sn.verify() == []


def _remove_killed_after(root: str, call: str, chain: str) -> None:
    """Remove `chain`, dying like a SIGKILL right after the first `os.<call>`."""
    store = open_store(Path(root))
    real = getattr(os, call)

    def then_die(*args: object, **kwargs: object) -> None:
        real(*args, **kwargs)
        os._exit(9)

    setattr(os, call, then_die)
    store.snapshots.remove(Digest.parse(chain))


@pytest.mark.root
@pytest.mark.parametrize("call", ["rename", "unlink"])
def test_a_removal_killed_before_its_commit_is_undone(tmp_path: Path, call: str, capfd) -> None:
    """remove() renames the dir to trash and unlinks the link inside the transaction
    that deletes the row; killed before the commit, the row survives, so the next start
    moves the dir and the link back and the snapshot still mounts."""
    store = open_store(tmp_path / "store")
    descs, diffs = _layers(store, 2)
    top = store.snapshots.ensure_layers(descs, diffs)
    store.close()
    ctx = multiprocessing.get_context("fork")
    p = ctx.Process(target=_remove_killed_after, args=(str(tmp_path / "store"), call, str(top)))
    p.start()
    p.join(60)
    assert p.exitcode == 9
    store = open_store(tmp_path / "store")
    sn = store.snapshots
    assert "its removal was left by a killed pybuild" in capfd.readouterr().err
    assert sn.verify() == [] and sn.get(top) is not None
    with sn.prepare(top) as a:
        assert (a.merged / "f001").read_text() == "1:f001"
    sn.remove(top)
    assert sn.list() == [] and sn.verify() == []
