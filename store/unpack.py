"""Safe unpack: apply one OCI layer tar to a snapshot dir in overlay form.

Every archive is hostile. The rules, each a clear `UnsafeArchiveEntry` naming the entry:
- names are cleaned: leading `/` and `.` components are dropped (absolute paths stay
  inside the root); any `..` component or NUL is refused;
- nothing is reached through a symlink: every path is walked one component at a time
  with `openat(O_NOFOLLOW|O_DIRECTORY)` from a root fd, and files are created with
  `O_CREAT|O_EXCL|O_NOFOLLOW`, so even a symlink the archive itself planted is never
  followed;
- hard links must name a file this same archive created earlier;
- device nodes are refused when rootless; overlay xattrs are refused from archives;
- the total of the declared entry sizes is checked against `max_bytes` at each header,
  before any of its data is read;
- an entry that repeats a non-directory path is refused (first-wins/last-wins
  ambiguity is how extract-over-symlink attacks work).

OCI whiteouts become overlay whiteouts (store.whiteout): `.wh.NAME` -> char 0/0 at NAME
(skipped when NAME came from this same layer), `.wh..wh..opq` -> the opaque xattr on
its directory. A directory created where this layer put a whiteout becomes opaque.
"""

from __future__ import annotations

import errno
import os
import shutil
import stat
from collections import OrderedDict
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

from store import userns
from store.compress import open_decompressed
from store.errors import NoSpace, StoreError, UnsafeArchiveEntry
from store.oci import tar as ts
from store.whiteout import (
    OverlayFormat,
    classify,
    default_format,
    make_overlay_whiteout,
    mark_opaque,
)

DEFAULT_MAX_BYTES = 64 << 30
_DIR_FLAGS = os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC
_FD_CACHE = 64


@dataclass(frozen=True)
class UnpackOptions:
    """How a layer is unpacked: the overlay format, rootless, and the size cap."""

    fmt: OverlayFormat = field(default_factory=default_format)
    rootless: bool = field(default_factory=userns.rootless)
    max_bytes: int | None = DEFAULT_MAX_BYTES  # total declared file data; None = no cap


@dataclass(frozen=True)
class UnpackStats:
    """How many entries and bytes an unpack wrote."""

    entries: int
    bytes: int  # file data written


def _umask() -> int:
    """The process umask, read without changing it (os.umask would, racily)."""
    with open("/proc/self/status", encoding="ascii") as f:
        for line in f:
            if line.startswith("Umask:"):
                return int(line.split()[1], 8)
    return 0o022


def clean_path(unsafe_name: str, label: str) -> str:
    """The archive path as a relative path under the root ("" is the root itself)."""
    if "\0" in unsafe_name:
        raise UnsafeArchiveEntry(label, "NUL byte in path")
    parts = []
    for comp in unsafe_name.split("/"):
        if comp in ("", "."):
            continue
        if comp == "..":
            raise UnsafeArchiveEntry(label, "path contains '..'")
        parts.append(comp)
    return "/".join(parts)


class _Unpacker:
    def __init__(self, dest: Path, opts: UnpackOptions) -> None:
        self.opts = opts
        self.root_fd = os.open(dest, _DIR_FLAGS)
        self.fds: OrderedDict[str, int] = OrderedDict()
        self.retired: list[int] = []
        self.seen: dict[str, bool] = {}  # explicit entries of this layer -> is_dir
        self.whiteouts: set[str] = set()
        self.implicit: set[str] = set()  # parents created for entries, not by entries
        self.dirs: dict[str, tuple[int, int]] = {}  # deferred (mode, mtime)
        self.total = 0
        self.entries = 0
        # uid 0 of a user namespace (rootless pybuild) chowns to the ids its map covers
        self.chown = not opts.rootless or (os.geteuid() == 0 and userns.in_user_namespace())
        self.ids = (os.geteuid(), os.getegid())
        self.umask = _umask()

    def close(self) -> None:
        self._close_retired()
        for fd in self.fds.values():
            os.close(fd)
        self.fds.clear()
        os.close(self.root_fd)

    # --- safe resolution -----------------------------------------------------------

    def dir_fd(self, rel: str, label: str) -> int:
        """An fd of directory `rel` under the root, creating missing parents; never
        follows a symlink."""
        if not rel:
            return self.root_fd
        fd = self.fds.get(rel)
        if fd is not None:
            self.fds.move_to_end(rel)
            return fd
        head, _, base = rel.rpartition("/")
        pfd = self.dir_fd(head, label)
        try:
            fd = os.open(base, _DIR_FLAGS, dir_fd=pfd)
        except FileNotFoundError:
            os.mkdir(base, 0o755, dir_fd=pfd)
            self.implicit.add(rel)
            fd = os.open(base, _DIR_FLAGS, dir_fd=pfd)
        except OSError as e:
            if e.errno not in (errno.ELOOP, errno.ENOTDIR):
                raise
            st = os.lstat(base, dir_fd=pfd)
            if stat.S_ISLNK(st.st_mode):
                raise UnsafeArchiveEntry(label, f"parent {rel!r} is a symlink") from None
            if rel not in self.whiteouts:
                raise UnsafeArchiveEntry(label, f"parent {rel!r} is not a directory") from None
            # whiteout then children in one layer: a new, opaque directory
            os.unlink(base, dir_fd=pfd)
            self.whiteouts.discard(rel)
            os.mkdir(base, 0o755, dir_fd=pfd)
            fd = os.open(base, _DIR_FLAGS, dir_fd=pfd)
            mark_opaque(fd, self.opts.fmt)
        self.fds[rel] = fd
        if len(self.fds) > _FD_CACHE:
            # closed only after this entry is done: its callers may still hold it
            self.retired.append(self.fds.popitem(last=False)[1])
        return fd

    def forget(self, rel: str) -> None:
        for key in [k for k in self.fds if k == rel or k.startswith(rel + "/")]:
            self.retired.append(self.fds.pop(key))

    def _close_retired(self) -> None:
        for fd in self.retired:
            os.close(fd)
        self.retired.clear()

    # --- entries -------------------------------------------------------------------

    def apply(self, e: ts.TarEntry, reader: ts.TarReader) -> None:
        self._close_retired()
        label = e.unsafe_name
        rel = clean_path(e.unsafe_name, label)
        self.entries += 1
        if self.opts.max_bytes is not None and e.type in (ts.REG, b"\0", b"7"):
            if self.total + e.size > self.opts.max_bytes:
                raise UnsafeArchiveEntry(
                    label, f"size {e.size} exceeds the cap of {self.opts.max_bytes} bytes"
                )
        head, _, base = rel.rpartition("/")
        try:
            kind, target = classify(base)
        except ValueError as err:
            raise UnsafeArchiveEntry(label, str(err)) from None
        if kind == "opaque":
            mark_opaque(self.dir_fd(head, label), self.opts.fmt)
            return
        if kind == "whiteout":
            wpath = f"{head}/{target}" if head else target
            try:
                make_overlay_whiteout(target, self.dir_fd(head, label))
                self.whiteouts.add(wpath)
            except FileExistsError:
                pass  # the path came from this layer; a whiteout hides only lower ones
            return
        typ = b"5" if e.type == b"\0" and e.unsafe_name.endswith("/") else e.type
        if not rel:
            if typ != ts.DIR:
                raise UnsafeArchiveEntry(label, "the root must be a directory")
            self._dir_meta(self.root_fd, "", e)
            return
        for k in e.xattrs:
            if self.opts.fmt.is_overlay_xattr(k):
                raise UnsafeArchiveEntry(label, f"overlay xattr {k!r} is not allowed in a layer")
        pfd = self.dir_fd(head, label)
        if rel in self.seen and not (typ == ts.DIR and self.seen[rel]):
            raise UnsafeArchiveEntry(label, "duplicate entry")
        self._create(pfd, base, rel, typ, e, reader, label)
        self.seen[rel] = typ == ts.DIR

    def _create(
        self,
        pfd: int,
        base: str,
        rel: str,
        typ: bytes,
        e: ts.TarEntry,
        reader: ts.TarReader,
        label: str,
    ) -> None:
        try:
            self._make(pfd, base, rel, typ, e, reader, label)
        except FileExistsError:
            was_whiteout = rel in self.whiteouts
            self._replace(pfd, base, rel, typ, label)
            self.whiteouts.discard(rel)
            self._make(pfd, base, rel, typ, e, reader, label)
            if was_whiteout and typ == ts.DIR:  # it hides the lower dir entirely
                mark_opaque(self.dir_fd(rel, label), self.opts.fmt)

    def _make(
        self,
        pfd: int,
        base: str,
        rel: str,
        typ: bytes,
        e: ts.TarEntry,
        reader: ts.TarReader,
        label: str,
    ) -> None:
        if typ in (ts.REG, b"\0", b"7"):
            self._file(pfd, base, e, reader, label)
        elif typ == ts.DIR:
            try:
                os.mkdir(base, 0o700, dir_fd=pfd)
            except FileExistsError:
                if not stat.S_ISDIR(os.lstat(base, dir_fd=pfd).st_mode):
                    raise
            self._dir_meta(self.dir_fd(rel, label), rel, e)
        elif typ == ts.SYM:
            os.symlink(e.unsafe_linkname, base, dir_fd=pfd)
            self._meta_nofollow(pfd, base, e)
        elif typ == ts.LNK:
            self._hardlink(pfd, base, e, label)
        elif typ in (ts.CHR, ts.BLK, ts.FIFO):
            self._special(pfd, base, typ, e, label)
        else:
            raise UnsafeArchiveEntry(label, f"unsupported entry type {typ!r}")

    def _replace(self, pfd: int, base: str, rel: str, typ: bytes, label: str) -> None:
        """Make room for an entry whose path exists: a whiteout of this layer, or
        content of a dest that was not empty. Parents this layer made are kept."""
        st = os.lstat(base, dir_fd=pfd)
        if stat.S_ISDIR(st.st_mode):
            if typ == ts.DIR:
                return
            if rel in self.implicit:
                raise UnsafeArchiveEntry(label, "replaces a directory that holds earlier entries")
            self.forget(rel)
            shutil.rmtree(base, dir_fd=pfd)
        else:
            os.unlink(base, dir_fd=pfd)

    def _file(self, pfd: int, base: str, e: ts.TarEntry, reader: ts.TarReader, label: str) -> None:
        mode = e.mode & 0o7777
        fd = os.open(
            base,
            os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC,
            mode & 0o777,
            dir_fd=pfd,
        )
        try:
            while chunk := reader.read_data():
                view = memoryview(chunk)
                while view:
                    view = view[os.write(fd, view) :]
            self.total += e.size
            # skip the syscalls when creation already gave the right owner and mode
            owner_ok = (e.uid, e.gid) == self.ids
            if self.chown and not owner_ok:
                _chown(e, os.fchown, fd)
            if mode != mode & 0o777 & ~self.umask or not owner_ok:
                os.fchmod(fd, mode)
            self._xattrs(fd, e)
            os.utime(fd, ns=(e.mtime * 10**9, e.mtime * 10**9))
        finally:
            os.close(fd)

    def _dir_meta(self, fd: int, rel: str, e: ts.TarEntry) -> None:
        if self.chown:
            _chown(e, os.fchown, fd)
        self._xattrs(fd, e)
        self.dirs[rel] = (e.mode & 0o7777, e.mtime)

    def _meta_nofollow(self, pfd: int, base: str, e: ts.TarEntry) -> None:
        if self.chown:
            _chown(e, os.chown, base, dir_fd=pfd, follow_symlinks=False)
        if e.xattrs:
            self._xattrs(f"/proc/self/fd/{pfd}/{base}", e)
        os.utime(base, ns=(e.mtime * 10**9,) * 2, dir_fd=pfd, follow_symlinks=False)

    def _hardlink(self, pfd: int, base: str, e: ts.TarEntry, label: str) -> None:
        target = clean_path(e.unsafe_linkname, label)
        if self.seen.get(target, True):
            raise UnsafeArchiveEntry(
                label, f"hard link target {e.unsafe_linkname!r} is not a file of this layer"
            )
        thead, _, tbase = target.rpartition("/")
        os.link(
            tbase, base, src_dir_fd=self.dir_fd(thead, label), dst_dir_fd=pfd, follow_symlinks=False
        )

    def _special(self, pfd: int, base: str, typ: bytes, e: ts.TarEntry, label: str) -> None:
        if typ == ts.FIFO:
            os.mkfifo(base, 0o600, dir_fd=pfd)
        else:
            if self.opts.rootless:
                raise UnsafeArchiveEntry(label, "device nodes are refused when rootless")
            kind = stat.S_IFCHR if typ == ts.CHR else stat.S_IFBLK
            os.mknod(base, kind | 0o600, os.makedev(e.devmajor, e.devminor), dir_fd=pfd)
        self._meta_nofollow(pfd, base, e)
        # mknod/mkfifo just made this node (EEXIST otherwise), so it is no symlink
        os.chmod(base, e.mode & 0o7777, dir_fd=pfd)

    def _xattrs(self, target: int | str, e: ts.TarEntry) -> None:
        for k, v in e.xattrs.items():
            try:
                if isinstance(target, int):
                    os.setxattr(target, k, v)
                else:
                    os.setxattr(target, k, v, follow_symlinks=False)
            except OSError as err:
                if err.errno not in (errno.ENOTSUP, errno.EPERM, errno.EINVAL):
                    raise

    def finish(self) -> None:
        for rel in sorted(self.dirs, reverse=True):
            self._close_retired()
            mode, mtime = self.dirs[rel]
            fd = self.dir_fd(rel, rel)
            os.fchmod(fd, mode)
            os.utime(fd, ns=(mtime * 10**9,) * 2)


def _chown(e: ts.TarEntry, fn: Any, target: int | str, **kw: Any) -> None:
    try:
        fn(target, e.uid, e.gid, **kw)
    except OSError as err:  # EINVAL: an id outside the user namespace's map
        if err.errno != errno.EINVAL or not userns.in_user_namespace():
            raise
        raise StoreError(
            f"{ts.printable(e.unsafe_name)}: owner {e.uid}:{e.gid} is not mapped "
            "in pybuild's user namespace (rootless): give this user a range in "
            "/etc/subuid and /etc/subgid (newuidmap)"
        ) from None


def unpack_tar(stream: IO[bytes], dest: Path, opts: UnpackOptions | None = None) -> UnpackStats:
    """Apply an uncompressed layer tar read from `stream` to the directory `dest`."""
    opts = opts or UnpackOptions()
    u = _Unpacker(dest, opts)
    label = "<header>"
    try:
        reader = ts.TarReader(stream)
        for entry in reader:
            label = entry.unsafe_name
            u.apply(entry, reader)
        label = "<end>"
        u.finish()
    except StoreError:
        raise
    except OSError as e:
        if e.errno in (errno.ENOSPC, errno.EDQUOT):
            raise NoSpace() from e
        raise ts.bad(label, e.strerror or str(e)) from None
    except (ValueError, OverflowError, UnicodeError) as e:
        raise ts.bad(label, str(e)) from None
    finally:
        u.close()
    return UnpackStats(u.entries, u.total)


def unpack(stream: IO[bytes], dest: Path, opts: UnpackOptions | None = None) -> UnpackStats:
    """Apply a layer blob (gzip, zstd or plain; sniffed) to `dest`."""
    reader = open_decompressed(stream)
    try:
        return unpack_tar(reader, dest, opts)  # type: ignore[arg-type]
    finally:
        reader.close()


def remove_beneath(root: Path, unsafe_path: str) -> bool:
    """Delete `root/unsafe_path` (file or tree) without following any symlink on the
    way; False when it does not exist or a parent is not a plain directory."""
    rel = clean_path(unsafe_path, unsafe_path)
    if not rel:
        return False
    head, _, base = rel.rpartition("/")
    fd = os.open(root, _DIR_FLAGS)
    try:
        for comp in head.split("/") if head else ():
            try:
                nfd = os.open(comp, _DIR_FLAGS, dir_fd=fd)
            except OSError:
                return False
            os.close(fd)
            fd = nfd
        try:
            st = os.lstat(base, dir_fd=fd)
        except FileNotFoundError:
            return False
        if stat.S_ISDIR(st.st_mode):
            shutil.rmtree(base, dir_fd=fd)
        else:
            os.unlink(base, dir_fd=fd)
        return True
    finally:
        os.close(fd)
