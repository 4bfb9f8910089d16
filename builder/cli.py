"""The `pybuild` command line: verb dispatch, one-line errors and exit codes.

Each verb lives in `builder/commands/<verb>.py` and exposes
`add_arguments(parser)` and `run(args) -> int`. Verbs are imported only when used,
so `pybuild --version` stays fast. Build is the default verb (DESIGN §2).
"""

from __future__ import annotations

import argparse
import importlib
import os
import sys
from collections.abc import Sequence

from builder import __version__

# verb -> (module under builder.commands, one-line help)
VERBS: dict[str, tuple[str, str]] = {
    "build": ("build", "build an image from a Dockerfile"),
    "plan": ("plan", "print the parsed stages and steps of a Dockerfile"),
    "images": ("images", "list stored images"),
    "inspect": ("inspect", "show layers, wasted bytes and pitfalls of an image"),
    "history": ("history", "show the history of an image"),
    "tag": ("tag", "tag an image"),
    "rmi": ("rmi", "remove images"),
    "pull": ("pull", "pull an image from a registry"),
    "push": ("push", "push an image to a registry"),
    "login": ("login", "log in to a registry"),
    "logout": ("logout", "log out of a registry"),
    "save": ("save", "save an image to an archive"),
    "load": ("load", "load an image from an archive"),
    "import": ("import_", "make a one-layer image from a rootfs tar"),
    "run": ("run", "run a command in a new container from an image"),
    "prune": ("prune", "remove unreferenced blobs and snapshots"),
    "fsck": ("fsck", "verify and repair the store"),
    "completion": ("completion", "print shell completion"),
}


class CliUsageError(Exception):
    exit_code = 2


class ArgumentParser(argparse.ArgumentParser):
    """argparse that raises instead of printing usage, so errors stay one line."""

    def error(self, message: str) -> None:  # type: ignore[override]
        raise CliUsageError(f"{self.prog}: {message}")


def _available_verbs() -> dict[str, tuple[str, str]]:
    here = os.path.join(os.path.dirname(__file__), "commands")
    return {v: m for v, m in VERBS.items() if os.path.exists(os.path.join(here, m[0] + ".py"))}


def _split_verb(argv: list[str]) -> tuple[str, list[str]]:
    verbs = _available_verbs()
    for i, a in enumerate(argv):
        if a in ("--debug",):
            continue
        if a in verbs:
            return a, argv[:i] + argv[i + 1:]
        break
    return "build", argv


def _top_help(out=sys.stdout) -> None:
    print("usage: pybuild [build] [OPTIONS] CONTEXT\n       pybuild VERB [ARGS]\n", file=out)
    print("A daemonless container image builder.\n\nverbs:", file=out)
    for v, (_, h) in _available_verbs().items():
        print(f"  {v:<11} {h}", file=out)
    print("\nglobal options:\n  --version   print the version\n  --debug     show tracebacks", file=out)


def main(argv: Sequence[str] | None = None) -> int:
    args_in = list(sys.argv[1:] if argv is None else argv)
    if args_in in (["--version"], ["version"]):
        print(f"pybuild {__version__}")
        return 0
    if args_in in ([], ["-h"], ["--help"], ["help"]):
        _top_help()
        return 0
    debug = "--debug" in args_in or os.environ.get("PYBUILD_DEBUG") == "1"
    args_in = [a for a in args_in if a != "--debug"]
    verb, rest = _split_verb(args_in)
    try:
        module_name, help_text = _available_verbs().get(verb) or (None, "")
        if module_name is None:
            raise CliUsageError(f"pybuild: unknown command {verb!r}")
        mod = importlib.import_module(f"builder.commands.{module_name}")
        parser = ArgumentParser(prog=f"pybuild {verb}", description=help_text)
        mod.add_arguments(parser)
        ns = parser.parse_args(rest)
        ns.debug = debug
        return int(mod.run(ns) or 0)
    except KeyboardInterrupt:
        print("pybuild: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:
        return 1
    except Exception as e:  # noqa: BLE001 - every error ends as one line
        if debug:
            import traceback

            traceback.print_exc()
        print(_one_line(e), file=sys.stderr)
        return _exit_code(e)


def _one_line(e: BaseException) -> str:
    text = " ".join((str(e).strip() or type(e).__name__).splitlines())
    if _is_ours(e) or isinstance(e, (CliUsageError, OSError)):
        return text if text.startswith("pybuild") or ":" in text else f"pybuild: {text}"
    return f"pybuild: internal error: {type(e).__name__}: {text} (run with --debug for the traceback)"


def _is_ours(e: BaseException) -> bool:
    from builder.errors import BuildError
    from registry_client.errors import RegistryError
    from store.errors import StoreError

    return isinstance(e, (BuildError, StoreError, RegistryError))


def _exit_code(e: BaseException) -> int:
    code = getattr(e, "exit_code", None)
    return code if isinstance(code, int) else 1


if __name__ == "__main__":
    sys.exit(main())
