"""Every verb and flag of ARCHITECTURE §2 exists, each verb's `--help` exits 0 and
lists the contract's flags, `--version` and `--debug` work, and the CLI stays lazy
(`--version` and `--help` import neither the engine nor rich nor lark)."""

from __future__ import annotations

import re
import subprocess
import sys

import pytest

from builder import __version__
from builder.cli import VERBS, main
from tests.fixtures.common import REPO

FLAG = re.compile(r"(?<![\w-])(--?[a-z][a-z-]*)")


def design_section_2() -> str:
    """ARCHITECTURE §2, the CLI contract, from docs/ARCHITECTURE.md."""
    text = (REPO / "docs" / "ARCHITECTURE.md").read_text()
    return text.split("## 2. CLI contract", 1)[1].split("\n## 3.", 1)[0]


def contract() -> dict[str, set[str]]:
    """verb -> the flags ARCHITECTURE §2 promises for it."""
    sec = design_section_2()
    build_part, others = sec.split("Other verbs:", 1)
    options = build_part.split("Options follow `docker build`:", 1)[1]
    out: dict[str, set[str]] = {"build": set()}
    for item in re.findall(r"`([^`]+)`", options):
        out["build"].update(f for f in FLAG.findall(item) if f != "-")
    others = others.split("Exit codes:", 1)[0]
    for item in re.findall(r"`([^`]+)`", others):
        verb = item.split()[0]
        if verb in VERBS:
            out.setdefault(verb, set()).update(FLAG.findall(item))
    return out


def _run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "builder.cli", *args],
        capture_output=True,
        text=True,
        cwd=REPO,
        env={
            "PATH": "/usr/bin:/bin",
            "PYTHONPATH": str(REPO),
            "PYBUILD_ROOT": "/nonexistent/pybuild-help",
        },
    )


def test_contract_parses_every_verb() -> None:
    c = contract()
    assert {
        "build",
        "images",
        "inspect",
        "history",
        "tag",
        "rmi",
        "pull",
        "push",
        "login",
        "logout",
        "save",
        "load",
        "run",
        "prune",
        "fsck",
        "plan",
    } <= set(c)
    assert {
        "-f",
        "--file",
        "-t",
        "--tag",
        "--build-arg",
        "--progress",
        "-q",
        "--secret",
        "--cache-from",
        "--cache-to",
        "--output",
        "--insecure-registry",
    } <= c["build"]
    assert c["inspect"] == {"--json", "--ci"} and c["save"] == {"-o", "--format"}


@pytest.mark.parametrize("verb", sorted(VERBS))
def test_help_of_every_verb_lists_the_contract_flags(verb: str) -> None:
    p = _run(verb, "--help")
    assert p.returncode == 0 and p.stderr == "", p.stderr
    assert p.stdout.startswith(f"usage: pybuild {verb}")
    for flag in contract().get(verb, set()) | {"--debug", "-h"}:
        assert re.search(rf"(?<![\w-]){re.escape(flag)}(?![\w-])", p.stdout), (verb, flag)


def test_build_is_the_default_verb_for_help_and_flags() -> None:
    assert _run("-h").stdout.startswith("usage: pybuild [build] [OPTIONS] CONTEXT")
    # a flag first means build: `pybuild --help` is the overview, `pybuild -f x --help` build's
    p = _run("-f", "Dockerfile", "--help")
    assert p.returncode == 0 and p.stdout.startswith("usage: pybuild build")


def test_top_help_names_every_verb_and_the_exit_codes() -> None:
    p = _run("--help")
    assert p.returncode == 0
    for verb in VERBS:
        assert re.search(rf"^  {verb} ", p.stdout, re.M), verb
    assert "exit codes: 0 success, 1 a failed step or registry error, 2 usage" in p.stdout
    assert _run("help", "images").stdout.startswith("usage: pybuild images")


def test_version(capsys: pytest.CaptureFixture[str]) -> None:
    project = (REPO / "pyproject.toml").read_text()
    assert f'version = "{__version__}"' in project
    assert main(["--version"]) == 0
    assert capsys.readouterr().out == f"pybuild {__version__}\n"
    assert _run("--debug", "--version").stdout == f"pybuild {__version__}\n"


def test_debug_adds_the_traceback() -> None:
    plain = _run("tag", "--bogus")
    assert plain.returncode == 2 and "Traceback" not in plain.stderr
    dbg = _run("--debug", "tag", "--bogus")
    assert dbg.returncode == 2 and "Traceback (most recent call last)" in dbg.stderr
    assert dbg.stderr.strip().splitlines()[-1] == plain.stderr.strip()
    # --debug after the verb works too, and PYBUILD_DEBUG=1
    assert "Traceback" in _run("tag", "--debug", "--bogus").stderr


def test_debug_after_run_image_belongs_to_the_command() -> None:
    from builder.cli import make_parser

    parser, _ = make_parser("run")
    ns = parser.parse_args(["img", "sh", "-c", "echo", "--debug"])
    assert ns.command == ["sh", "-c", "echo", "--debug"] and ns.debug is False


def test_an_internal_error_is_one_line_with_a_hint(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    import builder.commands.images as images

    def boom(args: object) -> int:
        raise KeyError("surprise")

    monkeypatch.setattr(images, "run", boom)
    assert main(["images"]) == 1
    assert capsys.readouterr().err == (
        "pybuild: internal error: KeyError: 'surprise' (run with --debug for the traceback)\n"
    )


LAZY = (
    "builder.engine",
    "builder.frontend.plan",
    "rich",
    "lark",
    "store.layout",
    "registry_client",
    "requests",
    "cryptography",
)


@pytest.mark.parametrize(
    "argv", [["--version"], ["--help"], ["build", "--help"], ["pull", "--help"], ["run", "--help"]]
)
def test_startup_is_lazy(argv: list[str]) -> None:
    code = (
        "import sys, contextlib, io\nfrom builder.cli import main\n"
        "with contextlib.suppress(SystemExit), contextlib.redirect_stdout(io.StringIO()):\n"
        f"    main({argv!r})\n"
        f"print([m for m in sys.modules if m.startswith({LAZY!r})])"
    )
    p = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=REPO)
    assert p.returncode == 0, p.stderr
    assert p.stdout.strip() == "[]", p.stdout


@pytest.mark.parametrize("argv", [["--version"], ["--help"]])
def test_version_and_help_load_nothing_of_the_store(argv: list[str]) -> None:
    # `pybuild --version` is the startup benchmark: the store's errors load only when
    # a command fails
    code = (
        "import sys, contextlib, io\nfrom builder.cli import main\n"
        "with contextlib.suppress(SystemExit), contextlib.redirect_stdout(io.StringIO()):\n"
        f"    main({argv!r})\n"
        "print([m for m in sys.modules if m == 'store' or m.startswith('store.')])"
    )
    p = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=REPO)
    assert p.returncode == 0, p.stderr
    assert p.stdout.strip() == "[]", p.stdout
