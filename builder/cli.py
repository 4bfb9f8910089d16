"""The `pybuild` command line: verb dispatch, one-line errors and exit codes.

Each verb lives in `builder/commands/<verb>.py` and exposes
`add_arguments(parser)` and `run(args) -> int`. Verbs are imported only when used,
so `pybuild --version` stays fast. Build is the default verb (ARCHITECTURE §2).

What this module imports at its top runs before `entry()` sets up `builder.startup`
(the deferred `inspect`, the dataclass code cache), so it is stdlib and modules
without dataclasses only. The few imports left in functions are the dispatch's own:
the verb module (importlib), the rootless re-exec, and modules only an error needs.
"""

from __future__ import annotations

import argparse
import importlib
import os
import signal
import sys
from collections.abc import Sequence
from typing import Any, NoReturn, Protocol, cast

from builder import __version__, startup

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


class CommandModule(Protocol):
    """What a verb's module (`builder.commands.<verb>`) provides."""

    def add_arguments(self, parser: argparse.ArgumentParser) -> None: ...

    def run(self, args: argparse.Namespace) -> int | None: ...


class CliUsageError(Exception):
    exit_code = 2


class Terminated(KeyboardInterrupt):
    """SIGTERM: handled as Ctrl-C is (sandboxes killed, mounts released, nothing
    tagged), then exit 143 as docker build does."""


def _on_sigterm(signum: int, frame: object) -> None:
    raise Terminated()


def _columns() -> int:
    """The help width as shutil.get_terminal_size() finds it ($COLUMNS, the terminal,
    else 80), without importing shutil (and bz2, lzma) on every run."""
    try:
        columns = int(os.environ.get("COLUMNS", ""))
    except ValueError:
        columns = 0
    if columns <= 0:
        stdout = sys.__stdout__  # None when Python runs without a stdout
        try:
            columns = os.get_terminal_size(stdout.fileno()).columns if stdout is not None else 0
        except (AttributeError, ValueError, OSError):
            columns = 0
    return columns or 80


class HelpFormatter(argparse.HelpFormatter):
    def __init__(
        self,
        prog: str,
        indent_increment: int = 2,
        max_help_position: int = 24,
        width: int | None = None,
    ) -> None:
        super().__init__(
            prog,
            indent_increment,
            max_help_position,
            width if width is not None else _columns() - 2,
        )


class ArgumentParser(argparse.ArgumentParser):
    """argparse that raises instead of printing usage, so errors stay one line."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("formatter_class", HelpFormatter)
        super().__init__(*args, **kwargs)

    def error(self, message: str) -> NoReturn:
        raise CliUsageError(f"{self.prog}: {message} (see '{self.prog} --help')")


def _available_verbs() -> dict[str, tuple[str, str]]:
    here = os.path.join(os.path.dirname(__file__), "commands")
    return {v: m for v, m in VERBS.items() if os.path.exists(os.path.join(here, m[0] + ".py"))}


def _split_verb(argv: list[str]) -> tuple[str, list[str]]:
    """The verb and its arguments; build when the first word is not a verb. A first
    word that is neither a verb nor a directory is a mistyped verb, not a context."""
    verbs = _available_verbs()
    if argv and argv[0] in verbs:
        return argv[0], argv[1:]
    if argv and _looks_like_verb(argv[0]) and not os.path.exists(argv[0]):
        import difflib  # only for a mistyped verb; at the top it would cost every start ~1.3 ms

        close = difflib.get_close_matches(argv[0], list(verbs), n=1)
        hint = f"did you mean {close[0]!r}? " if close else ""
        raise CliUsageError(
            f"pybuild: unknown command {argv[0]!r} and no build context of that "
            f"name ({hint}see 'pybuild --help')"
        )
    return "build", argv


def _looks_like_verb(word: str) -> bool:
    return word.isascii() and word.isalpha() and word.islower()


TOP_HELP = """\
usage: pybuild [build] [OPTIONS] CONTEXT
       pybuild VERB [ARGS]   (pybuild VERB --help for each verb's flags)

A daemonless container image builder: docker build's flags, an OCI image layout
store, and an inspector that explains image size and cache misses.

verbs:
{verbs}

global options:
  --version   print the version
  --debug     add the traceback to errors (also PYBUILD_DEBUG=1); every verb takes it

environment:
  PYBUILD_ROOT                 store location (root: /var/lib/pybuild)
  DOCKER_CONFIG                credentials directory (config.json)
  SOURCE_DATE_EPOCH            timestamp for reproducible images
  PYBUILD_INSECURE_REGISTRIES  comma-separated hosts that use plain HTTP

exit codes: 0 success, 1 a failed step or registry error, 2 usage or Dockerfile error
"""


def _top_help() -> None:
    verbs = "\n".join(f"  {v:<11} {h}" for v, (_, h) in _available_verbs().items())
    sys.stdout.write(TOP_HELP.format(verbs=verbs))


def make_parser(verb: str) -> tuple[argparse.ArgumentParser, CommandModule]:
    """The argparse parser of `verb` (with --debug) and its command module."""
    module_name, help_text = _available_verbs().get(verb) or (None, "")
    if module_name is None:
        raise CliUsageError(f"pybuild: unknown command {verb!r} (see 'pybuild --help')")
    mod = cast(CommandModule, importlib.import_module(f"builder.commands.{module_name}"))
    usage_verb = "[build]" if verb == "build" else verb
    parser = ArgumentParser(
        prog=f"pybuild {verb}",
        description=help_text,
        epilog=f"pybuild {usage_verb} ... exits 0 on success, 1 when a step "
        "or the registry fails, 2 on usage errors.",
    )
    mod.add_arguments(parser)
    parser.add_argument("--debug", action="store_true", help="add tracebacks to errors")
    return parser, mod


def main(argv: Sequence[str] | None = None) -> int:
    args_in = list(sys.argv[1:] if argv is None else argv)
    debug = os.environ.get("PYBUILD_DEBUG") == "1"
    while args_in[:1] == ["--debug"]:  # global, before the verb
        debug = True
        args_in = args_in[1:]
    if args_in in (["--version"], ["version"], ["-v"]):
        print(f"pybuild {__version__}")
        return 0
    if args_in in ([], ["-h"], ["--help"], ["help"]):
        _top_help()
        return 0
    try:
        if args_in[0] == "help" and len(args_in) == 2:  # `pybuild help VERB`
            args_in = [args_in[1], "--help"]
        verb, rest = _split_verb(args_in)
        parser, mod = make_parser(verb)
        global_debug, debug = debug, debug or "--debug" in rest  # for argument errors
        ns = parser.parse_args(rest)
        debug = global_debug or ns.debug
        ns.debug = debug
        if os.geteuid() != 0:  # rootless: become uid 0 of a user namespace (builder.rootless)
            from builder.rootless import maybe_enter  # imports builder.errors: see _is_ours

            maybe_enter(verb)
        return int(mod.run(ns) or 0)
    except KeyboardInterrupt as e:
        if isinstance(e, Terminated):
            print("pybuild: terminated", file=sys.stderr)
            return 143
        print("pybuild: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:
        return 1
    except Exception as e:  # every error ends as one line
        if debug:
            import traceback  # only for --debug: linecache, tokenize, textwrap

            traceback.print_exc()
        print(_one_line(e), file=sys.stderr)
        return _exit_code(e)


def _one_line(e: BaseException) -> str:
    if isinstance(e, OSError) and not _is_ours(e) and e.strerror:
        # "[Errno 2] No such file or directory: 'x'" -> "pybuild: x: No such file or directory"
        where = f"{e.filename}: " if e.filename else ""
        return f"pybuild: {where}{e.strerror}"
    text = " ".join((str(e).strip() or type(e).__name__).split())
    if _is_ours(e) or isinstance(e, (CliUsageError, OSError)):
        return text if text.startswith("pybuild") or ":" in text else f"pybuild: {text}"
    return (
        f"pybuild: internal error: {type(e).__name__}: {text} (run with --debug for the traceback)"
    )


def _is_ours(e: BaseException) -> bool:
    # Not at the top: builder.errors defines a dataclass, and at this module's import
    # `dataclasses` would load the real `inspect` before entry() defers it; and a
    # `--help` or `--version` loads nothing of the store or registry_client
    # (test_startup_is_lazy).
    from builder.errors import BuildError
    from registry_client.errors import RegistryError
    from store.errors import StoreError

    return isinstance(e, (BuildError, StoreError, RegistryError))


def _exit_code(e: BaseException) -> int:
    code = getattr(e, "exit_code", None)
    return code if isinstance(code, int) else 1


def entry() -> None:
    """The `pybuild` console script: main() inside builder.startup's fast start (the
    dataclass code cache) and fast exit, with SIGTERM handled as Ctrl-C."""
    startup.defer_inspect()
    startup.install_dataclass_cache()
    signal.signal(signal.SIGTERM, _on_sigterm)
    try:
        code = main()
    except SystemExit as e:  # argparse's --help and usage errors
        if e.code is None or isinstance(e.code, int):
            code = e.code or 0
        else:
            print(e.code, file=sys.stderr)
            code = 1
    startup.finish(code)


if __name__ == "__main__":
    entry()
