"""What the `pybuild` process does around its command to start and stop fast.

A no-op rebuild is ~100 ms, and most of it is not building: it is the interpreter
defining pybuild's classes and tearing itself down. Two measured costs live here.

- **Dataclass code cache.** Python 3.11's `dataclasses` writes each generated method
  (`__init__`, `__eq__`, `__hash__`, the frozen `__setattr__`, ...) as source text and
  compiles it, every run: ~210 compiles, ~20 ms, a fifth of a no-op build. The text
  depends only on the class's shape, so `install_dataclass_cache()` memoises the
  compiled code objects by their exact source text, in memory and in
  `$XDG_CACHE_HOME/pybuild/dataclass-code-<python>.marshal` (as `__pycache__` keeps
  bytecode; the file is used only when it and its dir are owned by this user and
  writable by no one else). The methods are the same code objects `exec` would have
  built: only the compile is skipped.
- **Deferred `inspect`.** `dataclasses` imports `inspect` (and with it `ast`, `dis`,
  `tokenize`: ~5 ms) only to write a docstring for a class that has none, and every
  pybuild dataclass has one. `defer_inspect()` puts a stand-in in `sys.modules` that
  imports the real module the first time anything asks it for anything.
- **Fast exit.** After the command, `finish()` runs the atexit hooks (thread-pool
  joins, temporary-directory cleanup), flushes stdout and stderr and ends the process
  without the interpreter's module teardown and garbage collection (~12 ms). Files
  are closed by the kernel; every store write is already committed by then (sqlite
  keeps its WAL, which the next open reads).
"""

from __future__ import annotations

import atexit
import builtins
import marshal
import os
import sys
import types
from typing import Any

MAX_ENTRIES = 4000  # beyond this (many code versions seen), start the file afresh

_codes: dict[str, bytes] = {}  # source text -> its marshalled code object
_used: set[str] = set()
_state = {"new": 0, "hits": 0, "loaded": 0}
_path: str | None = None


def cache_path() -> str:
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    tag = f"{sys.implementation.cache_tag}-{sys.version.split()[0]}"
    return os.path.join(base, "pybuild", f"dataclass-code-{tag}.marshal")


def _exec(source: Any, globals: Any = None, locals: Any = None, /) -> None:
    if isinstance(source, str):
        blob = _codes.get(source)
        if blob is None:
            # as exec(str) from dataclasses compiles it: no __future__ flags of ours
            code = compile(source, "<string>", "exec", dont_inherit=True)
            _codes[source] = marshal.dumps(code)
            _state["new"] += 1
        else:  # unmarshalled one by one, when used: loading all at start costs 9 ms
            code = marshal.loads(blob)
            _state["hits"] += 1
        _used.add(source)
        source = code
    builtins.exec(source, globals, locals)


def _trusted(st: os.stat_result) -> bool:
    """Code is loaded only from a file (and dir) this user owns and no one else can
    write: `sudo pybuild` with a user's HOME must not run that user's code."""
    return st.st_uid == os.geteuid() and not st.st_mode & 0o022


def install_dataclass_cache(path: str | None = None) -> None:
    """Route `dataclasses`' exec through the code cache (before any class is made)."""
    global _path
    import dataclasses  # not at the top: it imports inspect, which defer_inspect() precedes

    _path = path or cache_path()
    try:
        fd = os.open(_path, os.O_RDONLY | os.O_NOFOLLOW | os.O_CLOEXEC)
    except OSError:
        fd = -1  # none yet: compile as usual
    if fd >= 0:
        with os.fdopen(fd, "rb") as f:
            try:
                if _trusted(os.fstat(fd)) and _trusted(os.stat(os.path.dirname(_path))):
                    loaded = marshal.load(f)
                    if isinstance(loaded, dict) and all(type(v) is bytes for v in loaded.values()):
                        _codes.update(loaded)
                        _state["loaded"] = len(loaded)
            except (OSError, EOFError, ValueError, TypeError):
                pass  # unreadable: compile as usual
    dataclasses.exec = _exec  # type: ignore[attr-defined]  # shadows the builtin there


class _Deferred(types.ModuleType):
    """Stands in for a module until the first attribute is asked of it."""

    def __getattr__(self, attr: str) -> Any:
        real = sys.modules.get(self.__name__)
        if real is None or real is self:
            sys.modules.pop(self.__name__, None)
            real = __import__(self.__name__)
        return getattr(real, attr)


def defer_inspect() -> None:
    """Make `import inspect` free until inspect is used (see the module docstring)."""
    if "inspect" not in sys.modules:
        sys.modules["inspect"] = _Deferred("inspect")


def stats() -> dict[str, int]:
    """Counters for tests: codes loaded from the file, compiled now, reused."""
    return dict(_state)


def save_dataclass_cache() -> None:
    """Write the cache when this run compiled something new (best effort, atomic)."""
    if _path is None or not _state["new"]:
        return
    codes = _codes if len(_codes) <= MAX_ENTRIES else {s: _codes[s] for s in _used}
    tmp = f"{_path}.{os.getpid()}.tmp"
    try:
        os.makedirs(os.path.dirname(_path), mode=0o700, exist_ok=True)
        if not _trusted(os.stat(os.path.dirname(_path))):
            return  # it would never be loaded from there
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC, 0o600)
        with os.fdopen(fd, "wb") as f:
            marshal.dump(codes, f)
        os.replace(tmp, _path)
        _state["new"] = 0
    except (OSError, ValueError):
        try:
            os.unlink(tmp)
        except OSError:
            pass


def finish(code: int) -> None:
    """End the process with `code` now that the command is done (see the docstring)."""
    save_dataclass_cache()
    atexit._run_exitfuncs()
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except (OSError, ValueError):
            pass
    os._exit(code)
