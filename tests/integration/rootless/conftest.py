"""Shared by the rootless tests: a temp dir, the busybox rootfs tar the users can
read, the test user with a subuid range, and DOCKERFILE built as that user once."""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.integration.rootless.helpers import (
    WITH_SUBIDS,
    User,
    ensure_user,
    give,
    make_home,
    python_for,
)

DOCKERFILE = """\
FROM busybox
RUN echo made > /made && mkdir -p /opq/sub && touch /opq/a /opq/sub/b && rm /etc/group
RUN rm -rf /opq && mkdir /opq && echo new > /opq/c && chown 1000:1000 /opq/c
COPY hello.txt /hello.txt
COPY --chown=app hello.txt /home/app/
USER app
RUN echo mine > /tmp/appfile && id -u > /tmp/id
CMD ["sh", "-c", "id -u; cat /made /tmp/appfile /opq/c; ls /opq; test -e /etc/group || echo no-group"]
"""


@pytest.fixture(scope="package")
def base() -> Iterator[Path]:
    d = Path(tempfile.mkdtemp(prefix="pybuild-rootless-"))
    d.chmod(0o755)
    try:
        yield d
    finally:
        shutil.rmtree(d, ignore_errors=True)


@pytest.fixture(scope="package")
def rootfs(base: Path, busybox_tar: Path) -> Path:
    out = base / "rootfs.tar"
    shutil.copyfile(busybox_tar, out)
    out.chmod(0o644)  # the user imports it
    return out


@pytest.fixture(scope="package")
def user(base: Path) -> User:
    pw = ensure_user(WITH_SUBIDS, subids=True)
    return User(pw, make_home(base, pw), python_for(pw))


@pytest.fixture(scope="package")
def built(user: User, rootfs: Path) -> tuple[User, Path]:
    """busybox imported and DOCKERFILE built as `user`, in the default store location."""
    ctx = user.home / "ctx"
    ctx.mkdir()
    (ctx / "Dockerfile").write_text(DOCKERFILE)
    (ctx / "hello.txt").write_text("hello\n")
    give(ctx, user.pw)  # owned by the user's host uid: COPY makes them 0:0 all the same
    res = user.pybuild("import", str(rootfs), "busybox:latest")
    assert res.returncode == 0, res.stderr
    res = user.pybuild("build", "-t", "app:1", "--progress", "plain", "--network", "none", str(ctx))
    assert res.returncode == 0, res.stderr
    assert "[6/6] RUN echo mine" in res.stderr and "DONE" in res.stderr
    return user, user.home / "xdg" / "pybuild"
