"""An image's /etc/passwd and /etc/group, read as the untrusted input they are: only a
regular file is read (a FIFO would block the build, a device never ends), at most
`MAX_DB_BYTES` of it, and parsed into rows as moby/sys/user does (blank lines and
`#` comments skipped, fields split on `:`). Callers resolve the path inside the
image's root first: USER in the sandbox (`builder.sandbox.user`), `--chown` in the
copier (`builder.chown`)."""

from __future__ import annotations

import errno
import os
import stat
from pathlib import Path

MAX_DB_BYTES = 4 << 20


def read_rows(unsafe_path: str | Path) -> list[list[str]]:
    """The rows of the database at `unsafe_path` (already scoped to the root); none
    when it is missing, not a regular file, or a symlink."""
    try:
        fd = os.open(unsafe_path, os.O_RDONLY | os.O_NOFOLLOW | os.O_CLOEXEC | os.O_NONBLOCK)
    except (FileNotFoundError, NotADirectoryError, IsADirectoryError):
        return []
    except OSError as e:  # ELOOP: the last component is a symlink the resolver left
        if e.errno == errno.ELOOP:
            return []
        raise
    try:
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            return []
        data = os.read(fd, MAX_DB_BYTES)
    finally:
        os.close(fd)
    rows = []
    for line in data.decode("utf-8", "replace").splitlines():
        line = line.strip()
        if line and not line.startswith("#"):
            rows.append(line.split(":"))
    return rows
