"""Imports are at the top of their modules (CONTRIBUTING.md, "Imports").

A function-level import is allowed only where laziness is the design:
- a package seam: the PEP 562 `__getattr__` of a package `__init__`;
- the CLI's verb dispatch: `builder/cli.py`, and the `run()` of a verb module in
  `builder/commands/`, where the verb reaches the product (its flags load for `--help`
  without it);
- an optional dependency only one path needs (`OPTIONAL`), imported in the function
  that starts that path;
- the few named in `EXCEPTIONS`, each with its reason.

What a no-op build and `--help` may load is guarded by their own tests
(tests/integration/build/test_cache.py, tests/unit/cli/test_help_contract.py).
"""

from __future__ import annotations

import ast
from pathlib import Path

from tests.fixtures.common import REPO

PACKAGES = ("builder", "store", "registry_client")
GENERATED = {"builder/frontend/_dockerfile_parser.py"}
# third-party or C modules that cost milliseconds and that one path alone needs
OPTIONAL = {
    "rich",  # the tty progress view and the terminal inspect report
    "requests",  # ADD of a URL (the registry client has its own transport)
    "zstandard",  # zstd layers
    "gzip",  # a gzip layer read as a stream (a build whose steps are cached reads none)
    "certifi",  # the CA bundle, read when a TLS connection is first made
    "unicodedata",  # Go %q of a non-ASCII character
}
EXCEPTIONS = {
    # dataclasses imports inspect at once: defer_inspect() has to come first
    ("builder/startup.py", "dataclasses"),
    # the flags-to-BuildOptions step of `build`'s run(), which the flag tests call alone
    # (`build --help` loads nothing of the engine)
    ("builder/commands/build.py", "builder.engine.options"),
}


def _lazy_imports(path: Path) -> list[tuple[int, str, str]]:
    """(line, enclosing function, imported module) of each import inside a function,
    leaving out those under `if TYPE_CHECKING:`."""
    found: list[tuple[int, str, str]] = []

    def walk(node: ast.AST, func: str | None) -> None:
        for child in ast.iter_child_nodes(node):
            if isinstance(child, ast.If) and "TYPE_CHECKING" in ast.unparse(child.test):
                continue
            inner = func
            if isinstance(child, (ast.FunctionDef, ast.AsyncFunctionDef)):
                inner = func or child.name
            if func is not None and isinstance(child, ast.Import):
                found.extend((child.lineno, func, a.name) for a in child.names)
            elif func is not None and isinstance(child, ast.ImportFrom) and child.level == 0:
                found.append((child.lineno, func, child.module or ""))
            walk(child, inner)

    walk(ast.parse(path.read_text()), None)
    return found


def _allowed(rel: str, func: str, module: str) -> bool:
    if func == "__getattr__" and rel.endswith("/__init__.py"):
        return True
    if rel == "builder/cli.py":
        return True
    if rel.startswith("builder/commands/") and func == "run":
        return True
    if module.split(".")[0] in OPTIONAL:
        return True
    return (rel, module) in EXCEPTIONS


def test_imports_are_at_the_top_but_at_seams_verbs_and_optional_dependencies() -> None:
    bad = []
    for pkg in PACKAGES:
        for path in sorted((REPO / pkg).rglob("*.py")):
            rel = path.relative_to(REPO).as_posix()
            if rel in GENERATED:
                continue
            for line, func, module in _lazy_imports(path):
                if not _allowed(rel, func, module):
                    bad.append(f"{rel}:{line}: import {module} in {func}()")
    assert bad == [], "imports belong at the top of the module:\n" + "\n".join(bad)


def test_the_check_sees_an_import_inside_a_function(tmp_path: Path) -> None:
    src = tmp_path / "m.py"
    src.write_text(
        "from typing import TYPE_CHECKING\n"
        "if TYPE_CHECKING:\n    import os\n"
        "def f():\n    import json\n    if True:\n        from store import meta\n"
        "class C:\n    def g(self):\n        def h():\n            import csv\n"
    )
    assert _lazy_imports(src) == [(5, "f", "json"), (7, "f", "store"), (11, "g", "csv")]


def _runtime_typed_dicts(path: Path) -> list[str]:
    """`LINE: Name` of each TypedDict class defined outside `if TYPE_CHECKING:`."""
    found: list[str] = []

    def walk(node: ast.AST) -> None:
        for child in ast.iter_child_nodes(node):
            if isinstance(child, ast.If) and "TYPE_CHECKING" in ast.unparse(child.test):
                continue
            if isinstance(child, ast.ClassDef) and any(
                ast.unparse(b).endswith("TypedDict") for b in child.bases
            ):
                found.append(f"{child.lineno}: {child.name}")
            walk(child)

    walk(ast.parse(path.read_text()))
    return found


def test_typed_dicts_are_for_the_type_checker_only() -> None:
    """Defining a TypedDict makes `typing` compile each field's annotation text (23
    compiles were 5% of a no-op rebuild), and a TypedDict is a plain dict at run time:
    declare it under `if TYPE_CHECKING:`."""
    bad = []
    for pkg in PACKAGES:
        for path in sorted((REPO / pkg).rglob("*.py")):
            rel = path.relative_to(REPO).as_posix()
            bad += [f"{rel}:{hit}" for hit in _runtime_typed_dicts(path)]
    assert bad == []


def test_the_typed_dict_check_sees_one(tmp_path: Path) -> None:
    src = tmp_path / "m.py"
    src.write_text(
        "import typing\nfrom typing import TYPE_CHECKING, TypedDict\n"
        "if TYPE_CHECKING:\n    class A(TypedDict):\n        x: int\n"
        "class B(TypedDict, total=False):\n    x: int\n"
        "class C(typing.TypedDict):\n    x: int\n"
    )
    assert _runtime_typed_dicts(src) == ["6: B", "8: C"]
