"""COPY semantics (also the base of ADD): sources from a `SourceTree` into a target
root directory, and the content hash of the same selection for the cache key.

Owns Docker/BuildKit's rules (dockerfile2llb dispatchCopy + fsutil copy): a directory's
contents are copied, not the directory; a trailing `/` makes the destination a
directory; several sources need one; a file onto an existing directory lands inside
it; missing destination parents are created 0755 with the --chown owner; modes and
mtimes are kept unless --chmod; owner is 0:0 from the context unless --chown (a
`--from` source keeps its owners); symlinks inside a copied directory stay symlinks;
`--parents` keeps the path after the `/./` pivot; `--exclude` filters.

The target root is untrusted too (an image rootfs): the destination is resolved with
symlinks bounded to the root, and nothing is written through an existing symlink.
"""

from __future__ import annotations

import errno
import os
import posixpath
import stat
from collections.abc import Iterator
from contextlib import AbstractContextManager
from dataclasses import dataclass, field
from typing import Protocol

from builder.chown import Owner, SymbolicMode, parse_chmod  # noqa: F401 (parse_chmod: re-export)
from builder.context import (
    CopyError,
    DestinationError,
    Entry,
    Source,
    SourceTree,
    select_sources,
)
from builder.filehash import (
    FileChangedError,
    FileHashCache,
    SourceHash,
    entry_hash,
)
from builder.frontend.dockerignore import PatternMatcher
from store import userns

MULTI_SOURCE = (
    "When using {0} with more than one source file, the destination must be a "
    "directory and end with a /"
)


class ArchiveExtractor(Protocol):
    """What ADD unpacks local archives with (`builder.local_archive`): COPY never does,
    so a COPY-only build loads no decompressor."""

    def is_archive(self, path: str) -> bool: ...

    def extract_archive(self, path: str, dest_dir: str, instruction: str = "ADD") -> int: ...

    def staging_dir(self, beside: str) -> AbstractContextManager[str]:
        """A fresh directory, on the filesystem of `beside` when it can, removed after."""
        ...


@dataclass(frozen=True)
class CopyOptions:
    """What the engine passes for one COPY/ADD. `owner` is --chown already resolved
    with `builder.chown.resolve_chown` against the target rootfs."""

    owner: Owner | None = None
    chmod: int | SymbolicMode | None = None
    parents: bool = False
    excludes: tuple[str, ...] = ()
    preserve_owner: bool = False
    workdir: str = "/"
    instruction: str = "COPY"


@dataclass
class CopyStats:
    """What a copy wrote: counts, bytes and the destination paths."""

    files: int = 0
    dirs: int = 0
    links: int = 0
    bytes: int = 0
    paths: list[str] = field(default_factory=list)


class _Excluder:
    def __init__(self, patterns: tuple[str, ...]) -> None:
        self.m = None
        if patterns:
            self.m = PatternMatcher(list(patterns))

    def top(self, src: Source) -> bool:
        return self.m is not None and (self.m.matches(src.matched) or self.m.matches(src.name))

    def inner(self, rel: str) -> bool:
        return self.m is not None and bool(self.m.matches(rel))


def _selected(tree: SourceTree, unsafe_srcs: list[str], opts: CopyOptions) -> list[Source]:
    if not unsafe_srcs:
        raise CopyError("no source files were specified", opts.instruction)
    ex = _Excluder(opts.excludes)
    return [
        s
        for s in select_sources(
            tree, unsafe_srcs, parents=opts.parents, instruction=opts.instruction
        )
        if not ex.top(s)
    ]


def _entries(tree: SourceTree, src: Source, ex: _Excluder) -> Iterator[tuple[Entry, str]]:
    """(entry, path relative to the source) for a source and its subtree."""
    cut = len(src.rel) + 1 if src.rel else 0
    for e in tree.walk(src.rel):
        inner = e.rel[cut:] if e.rel != src.rel else ""
        if inner and ex.inner(inner):
            continue
        yield e, inner


def _meta(e: Entry, opts: CopyOptions) -> tuple[int, int, int]:
    mode = e.st.st_mode & 0o7777
    chmod = opts.chmod
    if chmod is not None and not stat.S_ISLNK(e.st.st_mode):
        if isinstance(chmod, SymbolicMode):
            mode = chmod.apply(mode, stat.S_ISDIR(e.st.st_mode))
        else:
            mode = chmod
    if opts.owner is not None:
        return mode, opts.owner.uid, opts.owner.gid
    if opts.preserve_owner:
        return mode, e.st.st_uid, e.st.st_gid
    return mode, 0, 0


def source_hash(
    tree: SourceTree, unsafe_srcs: list[str], opts: CopyOptions, cache: FileHashCache
) -> SourceHash:
    """The cache-key input of a COPY: content, mode and owner (after --chown and
    --chmod) of every entry that would be copied; never mtime."""
    try:
        return _source_hash(tree, unsafe_srcs, opts, cache)
    except FileChangedError as e:
        raise CopyError(f"file changed during the build: {e}", opts.instruction) from None
    except OSError as e:
        where = f": {e.filename}" if e.filename else ""
        raise CopyError(f"{e.strerror or e}{where}", opts.instruction) from None


def _source_hash(
    tree: SourceTree, unsafe_srcs: list[str], opts: CopyOptions, cache: FileHashCache
) -> SourceHash:
    ex = _Excluder(opts.excludes)
    items: list[tuple[str, str]] = []
    cache.preload(tree.root)
    for src in _selected(tree, unsafe_srcs, opts):
        for e, inner in _entries(tree, src, ex):
            mode, uid, gid = _meta(e, opts)
            kind = e.kind
            full = tree.abs(e.rel)
            content = cache.content_hash(full, e.st) if kind == "file" else ""
            top = src.keep or src.name
            dest = f"{top}/{inner}" if inner and top else (inner or top)
            rdev = e.st.st_rdev if kind == "device" else 0
            xattrs = cache.xattrs(full, e.st) if kind in ("file", "dir") else ""
            items.append(
                (
                    e.rel or ".",
                    entry_hash(
                        kind,
                        mode,
                        uid,
                        gid,
                        content=content,
                        link=e.link,
                        rdev=rdev,
                        dest=dest,
                        xattrs=xattrs,
                    ),
                )
            )
    cache.flush()
    return SourceHash.of(items)


# --- writing into the target -------------------------------------------------------


class _Writer:
    def __init__(self, tree: SourceTree, root: str, opts: CopyOptions) -> None:
        self.tree = tree
        self.target = SourceTree(root, is_context=False)
        self.opts = opts
        self.stats = CopyStats()
        self.dirs: list[tuple[str, Entry]] = []
        self.inodes: dict[tuple[int, int], str] = {}
        self.known: set[str] = {""}

    def err(self, msg: str) -> DestinationError:
        return DestinationError(msg, self.opts.instruction)

    def mkdir_p(self, rel: str) -> None:
        """Create missing dirs 0755 with the --chown owner (fsutil MkdirAll)."""
        if rel in self.known:
            return
        done = ""
        for part in [p for p in rel.split("/") if p]:
            done = f"{done}/{part}" if done else part
            if done in self.known:
                continue
            path = self.target.abs(done)
            try:
                st = os.lstat(path)
            except FileNotFoundError:
                os.mkdir(path, 0o755)
                os.chmod(path, 0o755)
                owner = self.opts.owner or Owner(0, 0)
                os.lchown(path, owner.uid, owner.gid)
                self.known.add(done)
                continue
            if not stat.S_ISDIR(st.st_mode):
                raise self.err(f"cannot copy to non-directory: /{done}")
            self.known.add(done)

    def put(self, e: Entry, dest: str, top_dir: bool = False) -> None:
        """Write one entry at `dest` (a target-relative path whose parent exists)."""
        path = self.target.abs(dest)
        try:
            old = os.lstat(path)
        except FileNotFoundError:
            old = None
        kind = e.kind
        if kind == "dir":
            if old is None:
                os.mkdir(path, 0o700)
            elif not stat.S_ISDIR(old.st_mode):
                raise self.err(f"cannot copy to non-directory: /{dest}")
            self.known.add(dest)
            if old is None or not top_dir:
                self.dirs.append((path, e))
            self.stats.dirs += 1
            return
        if old is not None:
            if stat.S_ISDIR(old.st_mode):
                raise self.err(f"cannot replace to directory /{dest} with file")
            os.unlink(path)
        mode, uid, gid = _meta(e, self.opts)
        if kind == "symlink":
            os.symlink(e.link, path)
            self.stats.links += 1
        elif kind == "file":
            key = (e.st.st_dev, e.st.st_ino)
            if e.st.st_nlink > 1 and key in self.inodes:
                os.link(self.inodes[key], path)
                self.stats.files += 1
                return
            self._copy_file(self.tree.abs(e.rel), e, path, mode, uid, gid)
            if e.st.st_nlink > 1:
                self.inodes[key] = path
            self.stats.paths.append(dest)
            return
        elif kind == "fifo":
            os.mkfifo(path, 0o600)
        else:
            os.mknod(path, stat.S_IFMT(e.st.st_mode) | 0o600, e.st.st_rdev)
        self.stats.paths.append(dest)
        self._finish(path, e, mode, uid, gid)

    def _finish(self, path: str, e: Entry, mode: int, uid: int, gid: int) -> None:
        os.lchown(path, uid, gid)
        if not stat.S_ISLNK(e.st.st_mode):
            os.chmod(path, mode)  # after chown, which clears setuid bits
            _copy_xattrs(self.tree.abs(e.rel), path)
        os.utime(path, ns=(e.st.st_atime_ns, e.st.st_mtime_ns), follow_symlinks=False)

    def _copy_file(self, src: str, e: Entry, dst: str, mode: int, uid: int, gid: int) -> None:
        """Content, then owner, mode, xattrs and times, all through the two fds: on an
        overlay every path-based call walks the merged tree again (~30% of a COPY)."""
        sfd = os.open(src, os.O_RDONLY | os.O_NOFOLLOW | os.O_CLOEXEC | os.O_NONBLOCK)
        try:
            fst = os.fstat(sfd)
            if not stat.S_ISREG(fst.st_mode) or fst.st_ino != e.st.st_ino:
                raise CopyError(f"source changed during copy: {e.rel}", self.opts.instruction)
            dfd = os.open(
                dst, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC, 0o600
            )
            try:
                self.stats.bytes += _copy_fd(sfd, dfd, fst.st_size)
                os.fchown(dfd, uid, gid)
                os.fchmod(dfd, mode)  # after chown, which clears setuid bits
                _copy_xattrs(sfd, dfd)
                os.utime(dfd, ns=(e.st.st_atime_ns, e.st.st_mtime_ns))
            finally:
                os.close(dfd)
        finally:
            os.close(sfd)
        self.stats.files += 1

    def close_dirs(self) -> None:
        """Dir metadata last (children change mtimes), deepest first."""
        for path, e in reversed(self.dirs):
            mode, uid, gid = _meta(e, self.opts)
            self._finish(path, e, mode, uid, gid)


def _copy_fd(sfd: int, dfd: int, size: int = -1) -> int:
    """Copy sfd to EOF into dfd; `size` (the fstat size) saves the last call that
    would return 0, unless the file grew."""
    total = 0
    try:
        while n := os.copy_file_range(sfd, dfd, 1 << 30):
            total += n
            if total == size:
                break
        return total
    except OSError as exc:
        if exc.errno not in (errno.EXDEV, errno.ENOSYS, errno.EINVAL, errno.EOPNOTSUPP):
            raise
    while chunk := os.read(sfd, 1 << 20):
        os.write(dfd, chunk)
        total += len(chunk)
    return total


def _copy_xattrs(src: str | int, dst: str | int) -> None:
    """From `src` to `dst`: paths (symlinks not followed) or fds."""
    nofollow = {} if isinstance(src, int) else {"follow_symlinks": False}
    try:
        names = os.listxattr(src, **nofollow)
    except OSError:
        return
    for name in names:
        try:
            os.setxattr(dst, name, os.getxattr(src, name, **nofollow), **nofollow)
        except OSError:
            pass  # e.g. trusted.* or a filesystem without xattrs: BuildKit ignores too


def is_dir_dest(unsafe_dest: str) -> bool:
    return unsafe_dest in ("", ".") or unsafe_dest.endswith("/") or unsafe_dest.endswith("/.")


def copy_into(
    tree: SourceTree,
    unsafe_srcs: list[str],
    unsafe_dest: str,
    target_root: str,
    opts: CopyOptions,
    *,
    archives: ArchiveExtractor | None = None,
) -> CopyStats:
    """Copy like `COPY srcs... dest` into `target_root` (a rootfs, possibly empty,
    e.g. for --link). Relative `dest` is relative to `opts.workdir`. With `archives`
    (ADD: `builder.local_archive`), a source file that is an archive is unpacked into
    the destination directory instead."""
    try:
        return _copy_into(tree, unsafe_srcs, unsafe_dest, target_root, opts, archives)
    except FileChangedError as e:
        raise CopyError(f"file changed during the build: {e}", opts.instruction) from None
    except OSError as e:
        if e.errno == errno.EINVAL and opts.owner is not None and userns.in_user_namespace():
            raise CopyError(
                f"--chown {opts.owner.uid}:{opts.owner.gid} is not mapped in "
                "pybuild's user namespace (rootless): give this user a range in "
                "/etc/subuid and /etc/subgid",
                opts.instruction,
            ) from None
        where = f": {e.filename}" if e.filename else ""
        raise CopyError(f"{e.strerror or e}{where}", opts.instruction) from None


def _copy_into(
    tree: SourceTree,
    unsafe_srcs: list[str],
    unsafe_dest: str,
    target_root: str,
    opts: CopyOptions,
    archives: ArchiveExtractor | None,
) -> CopyStats:
    sources = _selected(tree, unsafe_srcs, opts)
    as_dir = is_dir_dest(unsafe_dest) or opts.parents
    if len(sources) > 1 and not as_dir:
        raise DestinationError(MULTI_SOURCE.format(opts.instruction), opts.instruction)
    w = _Writer(tree, target_root, opts)
    dest = w.target.resolve(posixpath.join(opts.workdir or "/", unsafe_dest))
    if as_dir:
        w.mkdir_p(dest)
    else:
        w.mkdir_p(posixpath.dirname(dest))
    ex = _Excluder(opts.excludes)
    for src in sources:
        if archives is not None and not src.is_dir and _extract(archives, tree, src, w, dest):
            continue
        if opts.parents:
            base = posixpath.join(dest, src.keep)
            w.mkdir_p(base if src.is_dir else posixpath.dirname(base))
        else:
            base = dest
            dst_st = w.target.lstat(dest)
            if not src.is_dir and dst_st is not None and stat.S_ISDIR(dst_st.st_mode):
                base = posixpath.join(dest, src.name)
            elif src.is_dir:
                w.mkdir_p(dest)
        for e, inner in _entries(tree, src, ex):
            out = posixpath.join(base, inner) if inner else base
            if inner:
                w.mkdir_p(posixpath.dirname(out))
            w.put(e, out, top_dir=not inner)
    w.close_dirs()
    return w.stats


def _extract(
    archives: ArchiveExtractor, tree: SourceTree, src: Source, w: _Writer, dest: str
) -> bool:
    path = tree.abs(src.rel)
    if not archives.is_archive(path):
        return False
    w.mkdir_p(dest)
    if w.opts.owner is None:
        w.stats.files += archives.extract_archive(path, w.target.abs(dest), w.opts.instruction)
        return True
    # BuildKit >= 0.23 applies --chown to the members: unpack beside the target
    # (same filesystem when possible), then copy over with the new owner.
    with archives.staging_dir(beside=w.target.root) as staging:
        archives.extract_archive(path, staging, w.opts.instruction)
        opts = CopyOptions(owner=w.opts.owner, preserve_owner=True, instruction=w.opts.instruction)
        got = _copy_into(
            SourceTree(staging, is_context=False), ["."], f"/{dest}/", w.target.root, opts, None
        )
        w.stats.files += got.files
        w.stats.bytes += got.bytes
    return True
