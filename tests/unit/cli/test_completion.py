"""`pybuild completion bash|zsh`. The bash script is loaded into a real bash
and asked for completions the way readline asks; the zsh script is checked by zsh's
parser and must name every verb and flag."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from builder.cli import VERBS
from builder.commands.completion import verb_flags
from tests.fixtures.common import REPO


def _script(shell: str) -> str:
    p = subprocess.run(
        [sys.executable, "-m", "builder.cli", "completion", shell],
        capture_output=True,
        text=True,
        cwd=REPO,
    )
    assert p.returncode == 0 and p.stderr == "", p.stderr
    return p.stdout


def _complete(script: Path, words: list[str], cwd: Path, bindir: Path) -> list[str]:
    """COMPREPLY for the command line `words` (the last word is being completed)."""
    words_sh = " ".join(f"'{w}'" for w in words)
    prog = (
        f"source {script}\nCOMP_WORDS=({words_sh})\nCOMP_CWORD={len(words) - 1}\n"
        "_pybuild\nprintf '%s\\n' \"${COMPREPLY[@]}\"\n"
    )
    p = subprocess.run(
        ["bash", "--norc", "-c", prog],
        capture_output=True,
        text=True,
        cwd=cwd,
        env={"PATH": f"{bindir}:/usr/bin:/bin"},
    )
    assert p.returncode == 0, p.stderr
    return sorted(x for x in p.stdout.splitlines() if x)


@pytest.fixture
def bash_script(tmp_path: Path) -> tuple[Path, Path]:
    script = tmp_path / "pybuild.bash"
    script.write_text(_script("bash"))
    # a `pybuild` on PATH whose `images` lists two stored images, as the real one prints them
    bindir = tmp_path / "bin"
    bindir.mkdir()
    fake = bindir / "pybuild"
    fake.write_text(
        "#!/bin/sh\nprintf 'REPOSITORY TAG IMAGE ID\\napp dev 123\\n"
        "busybox latest 456\\n<none> <none> 789\\n'\n"
    )
    fake.chmod(0o755)
    return script, bindir


def test_bash_completes_verbs_flags_choices_files_and_images(bash_script, tmp_path: Path) -> None:
    script, bindir = bash_script
    (tmp_path / "ctx").mkdir()
    (tmp_path / "Dockerfile.dev").write_text("FROM scratch\n")
    assert _complete(script, ["pybuild", "pu"], tmp_path, bindir) == ["pull", "push"]
    assert _complete(script, ["pybuild", "c"], tmp_path, bindir) == ["completion", "ctx"]
    assert _complete(script, ["pybuild", "--prog"], tmp_path, bindir) == ["--progress"]
    assert _complete(script, ["pybuild", "build", "--progress", ""], tmp_path, bindir) == sorted(
        ["auto", "plain", "tty", "json", "quiet"]
    )
    assert _complete(script, ["pybuild", "-t", "x", "--net"], tmp_path, bindir) == ["--network"]
    assert _complete(script, ["pybuild", "-f", "Dock"], tmp_path, bindir) == ["Dockerfile.dev"]
    assert _complete(script, ["pybuild", "save", "--format", ""], tmp_path, bindir) == [
        "docker",
        "oci",
    ]
    assert _complete(script, ["pybuild", "inspect", ""], tmp_path, bindir) == [
        "app:dev",
        "busybox:latest",
    ]
    # rmi's -f is --force, not a file flag: still completes images
    assert _complete(script, ["pybuild", "rmi", "-f", "b"], tmp_path, bindir) == ["busybox:latest"]
    assert _complete(script, ["pybuild", "completion", ""], tmp_path, bindir) != []


def test_bash_knows_every_flag_of_every_verb(bash_script, tmp_path: Path) -> None:
    script, bindir = bash_script
    table = verb_flags()
    assert set(table) == set(VERBS)
    for verb, (flags, _) in table.items():
        got = _complete(script, ["pybuild", verb, "-"], tmp_path, bindir)
        assert got == sorted(f for f in flags if f.startswith("-")), verb


def test_zsh_script_parses_and_names_everything(tmp_path: Path) -> None:
    text = _script("zsh")
    script = tmp_path / "_pybuild"
    script.write_text(text)
    p = subprocess.run(["zsh", "-n", str(script)], capture_output=True, text=True)
    assert p.returncode == 0, p.stderr
    assert text.startswith("#compdef pybuild\n")
    for verb, (flags, _choices) in verb_flags().items():
        assert f"    {verb}) _arguments" in text
        for f in flags:
            assert f"'{f}[]" in text
    assert "'--progress[]:value:(auto plain tty json quiet)'" in text


def test_zsh_completion_loads_in_a_real_zsh(tmp_path: Path) -> None:
    """compinit picks the function up from fpath and binds it to pybuild."""
    fdir = tmp_path / "fpath"
    fdir.mkdir()
    (fdir / "_pybuild").write_text(_script("zsh"))
    prog = (
        f"fpath=({fdir} $fpath); autoload -Uz compinit; compinit -u -D; "
        "print -r -- ${_comps[pybuild]}"
    )
    p = subprocess.run(
        ["zsh", "-f", "-c", prog],
        capture_output=True,
        text=True,
        env={"PATH": "/usr/bin:/bin", "HOME": str(tmp_path)},
    )
    assert p.returncode == 0, p.stderr
    assert p.stdout.strip() == "_pybuild"
