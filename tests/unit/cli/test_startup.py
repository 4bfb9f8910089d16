"""builder.startup: the dataclass code cache gives the very classes `dataclasses` would
have made, survives a bad cache file, and the fast exit keeps atexit hooks, buffered
output and the exit code."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.fixtures.common import REPO

PROBE = r"""
import json, sys
from builder import startup
if sys.argv[1] == "cached":
    startup.install_dataclass_cache()
import dataclasses
from dataclasses import dataclass, field

@dataclass(frozen=True)
class Ref:
    name: str
    tag: str = "latest"
    labels: tuple = field(default_factory=tuple)
    n: int = field(default=0, compare=False)

@dataclass
class Box:
    items: list = field(default_factory=list)
    def add(self, x):
        self.items.append(x)

a, b = Ref("app"), Ref("app", n=5)
try:
    a.name = "x"
    frozen = False
except dataclasses.FrozenInstanceError:
    frozen = True
box = Box(); box.add(1)
out = {
    "eq": a == b, "hash": hash(a) == hash(b), "repr": repr(a), "frozen": frozen,
    "replace": repr(dataclasses.replace(a, tag="1")), "fields": [f.name for f in dataclasses.fields(Ref)],
    "init_annotations": {k: str(v) for k, v in Ref.__init__.__annotations__.items()},
    "box": repr(box), "fresh_default": Box().items, "doc": Ref.__doc__,
}
startup.save_dataclass_cache()
print(json.dumps({"probe": out, "stats": startup.stats()}))
"""


def _probe(mode: str, cache_home: Path) -> dict:
    env = {**os.environ, "XDG_CACHE_HOME": str(cache_home), "PYTHONPATH": str(REPO)}
    p = subprocess.run(
        [sys.executable, "-c", PROBE, mode], capture_output=True, text=True, env=env, check=True
    )
    return json.loads(p.stdout)


def test_cached_dataclasses_behave_exactly_as_compiled_ones(tmp_path: Path) -> None:
    plain = _probe("plain", tmp_path)
    first = _probe("cached", tmp_path)  # compiles, then saves
    second = _probe("cached", tmp_path)  # reuses the saved code
    assert first["probe"] == plain["probe"] == second["probe"]
    assert plain["probe"]["eq"] and plain["probe"]["frozen"]
    assert first["stats"]["new"] == 0  # saved (the counter resets once written)
    assert first["stats"]["loaded"] == 0
    assert second["stats"]["loaded"] > 0
    assert second["stats"]["hits"] >= 8  # __init__, __repr__, __eq__, __hash__, ... of both


def test_a_corrupt_cache_file_is_ignored_and_rewritten(tmp_path: Path) -> None:
    plain = _probe("plain", tmp_path)
    _probe("cached", tmp_path)
    files = list((tmp_path / "pybuild").iterdir())
    assert len(files) == 1 and files[0].name.startswith("dataclass-code-")
    files[0].write_bytes(b"\x00not marshal")
    again = _probe("cached", tmp_path)
    assert again["probe"] == plain["probe"]
    assert again["stats"]["loaded"] == 0
    assert _probe("cached", tmp_path)["stats"]["loaded"] > 0  # written anew


FINISH = r"""
import atexit, sys
from builder import startup
atexit.register(lambda: open(sys.argv[1], "w").write("hook ran"))
sys.stdout.write("no newline, still buffered")
startup.finish(3)
print("never")
"""


def test_fast_exit_runs_atexit_hooks_flushes_output_and_keeps_the_code(tmp_path: Path) -> None:
    marker = tmp_path / "hook"
    p = subprocess.run(
        [sys.executable, "-c", FINISH, str(marker)],
        capture_output=True,
        text=True,
        env={**os.environ, "PYTHONPATH": str(REPO), "XDG_CACHE_HOME": str(tmp_path)},
    )
    assert p.returncode == 3
    assert p.stdout == "no newline, still buffered"
    assert marker.read_text() == "hook ran"


def _entry(*args: str, cache: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-c", "from builder.cli import entry; entry()", *args],
        capture_output=True,
        text=True,
        cwd=REPO,
        env={**os.environ, "PYTHONPATH": str(REPO), "XDG_CACHE_HOME": str(cache)},
    )


def test_the_console_entry_keeps_exit_codes_of_help_usage_errors_and_commands(
    tmp_path: Path,
) -> None:
    assert _entry("--version", cache=tmp_path).stdout.startswith("pybuild ")
    h = _entry("build", "--help", cache=tmp_path)
    assert h.returncode == 0 and "usage: pybuild build" in h.stdout
    bad = _entry("build", "--no-such-flag", ".", cache=tmp_path)
    assert bad.returncode == 2 and "--no-such-flag" in bad.stderr
    missing = _entry("build", str(tmp_path / "absent"), cache=tmp_path)
    assert missing.returncode != 0 and missing.stderr.count("\n") == 1


DEFERRED = r'''
import json, sys
from builder import startup
startup.defer_inspect()
import dataclasses
from dataclasses import dataclass

@dataclass(frozen=True)
class Documented:
    """Has a docstring: dataclasses never asks inspect for a signature."""
    x: int

loaded_early = "ast" in sys.modules or type(sys.modules["inspect"]).__name__ != "_Deferred"

@dataclass
class Bare:
    x: int
    y: str = "a"

from inspect import signature  # the first real use loads the real module
import inspect
print(json.dumps({
    "loaded_early": loaded_early, "bare_doc": Bare.__doc__,
    "sig": str(signature(lambda a, b=2: None)), "real": inspect.isfunction(print) is False,
    "module": type(sys.modules["inspect"]).__name__, "ast": "ast" in sys.modules,
}))
'''


def test_inspect_is_loaded_only_when_something_uses_it() -> None:
    p = subprocess.run(
        [sys.executable, "-c", DEFERRED],
        capture_output=True,
        text=True,
        env={**os.environ, "PYTHONPATH": str(REPO)},
        check=True,
    )
    got = json.loads(p.stdout)
    assert got["loaded_early"] is False
    assert got["bare_doc"] == "Bare(x: int, y: str = 'a')"  # as without the stand-in
    assert got["sig"] == "(a, b=2)"
    assert got["real"] is True
    assert got["module"] == "module" and got["ast"] is True


@pytest.mark.root  # chown to another user
def test_a_cache_file_someone_else_could_write_is_never_loaded(tmp_path: Path) -> None:
    plain = _probe("plain", tmp_path)
    _probe("cached", tmp_path)
    (f,) = (tmp_path / "pybuild").iterdir()
    assert f.stat().st_mode & 0o777 == 0o600
    assert _probe("cached", tmp_path)["stats"]["loaded"] > 0
    os.chown(f, 1234, 1234)  # another user's file (the tests run as root)
    got = _probe("cached", tmp_path)
    assert got["stats"]["loaded"] == 0 and got["probe"] == plain["probe"]
    os.chown(f, 0, 0)
    os.chmod(f, 0o666)  # anyone could have written it
    assert _probe("cached", tmp_path)["stats"]["loaded"] == 0
    os.chmod(f, 0o600)
    os.chmod(tmp_path / "pybuild", 0o777)  # or replaced it
    assert _probe("cached", tmp_path)["stats"]["loaded"] == 0
