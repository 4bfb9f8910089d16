"""Every Dockerfile error is one line `FILE:LINE:COL: message`, exit code 2, no
traceback — checked through `builder.cli.main(["plan", ...])` and, for a few, through
the installed `pybuild plan` in a subprocess."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from builder.cli import main
from builder.frontend.plan import make_plan
from tests.fixtures.common import REPO

BAD = [
    (
        "unknown instruction",
        "FROM a\nCPY a b\n",
        "{f}:2:1: unknown instruction: CPY (did you mean COPY?)",
    ),
    (
        "unknown instruction, lower case",
        "from a\nrnu echo\n",
        "{f}:2:1: unknown instruction: rnu (did you mean RUN?)",
    ),
    ("unknown flag", "FROM a\nCOPY --foo=1 a b\n", "{f}:2:1: COPY: unknown flag: --foo"),
    (
        "flag of another instruction",
        "FROM a\nRUN --from=x echo\n",
        "{f}:2:1: RUN: unknown flag: --from",
    ),
    (
        "duplicate flag",
        "FROM a\nCOPY --from=x --from=y a b\n",
        "{f}:2:1: COPY: Duplicate flag specified: --from",
    ),
    (
        "flag without value",
        "FROM a\nCOPY --chown a b\n",
        "{f}:2:1: COPY: Missing a value on flag: --chown",
    ),
    (
        "bad boolean",
        "FROM a\nCOPY --link=maybe a b\n",
        "{f}:2:1: COPY: expecting boolean value for flag --link, not: maybe",
    ),
    (
        "bad mount",
        "FROM a\nRUN --mount=type=nfs,target=/x true\n",
        "{f}:2:1: RUN: unsupported mount type 'nfs'",
    ),
    (
        "COPY one argument",
        "FROM a\nCOPY a\n",
        "{f}:2:1: COPY: COPY requires at least two arguments, but only one was provided. Destination could not be determined",
    ),
    ("USER no argument", "FROM a\nUSER\n", "{f}:2:1: USER: USER requires exactly one argument"),
    (
        "EXPOSE no argument",
        "FROM a\nEXPOSE\n",
        "{f}:2:1: EXPOSE: EXPOSE requires at least one argument",
    ),
    ("RUN no argument", "FROM a\nRUN\n", "{f}:2:1: RUN: RUN requires at least one argument"),
    ("ENV name only", "FROM a\nENV PATH\n", "{f}:2:1: ENV: ENV must have two arguments"),
    (
        "LABEL without =",
        "FROM a\nLABEL a=b c\n",
        '{f}:2:1: LABEL: Syntax error - can\'t find = in "c". Must be of the form: name=value',
    ),
    (
        "SHELL not JSON",
        "FROM a\nSHELL bash -c\n",
        "{f}:2:1: SHELL: SHELL requires the arguments to be in JSON form",
    ),
    (
        "JSON with a number",
        'FROM a\nCMD ["a", 1]\n',
        "{f}:2:1: CMD: when using JSON array syntax, arrays must be comprised of strings only",
    ),
    (
        "HEALTHCHECK bad type",
        "FROM a\nHEALTHCHECK CONNECT x\n",
        '{f}:2:1: HEALTHCHECK: Unknown type "CONNECT" in HEALTHCHECK (try CMD)',
    ),
    (
        "ONBUILD FROM",
        "FROM a\nONBUILD FROM b\n",
        "{f}:2:1: ONBUILD: FROM isn't allowed as an ONBUILD trigger",
    ),
    (
        "FROM missing",
        "RUN echo hi\n",
        "{f}:1:1: RUN: no build stage in current context: the first instruction must be FROM (only ARG may come before it)",
    ),
    ("only ARGs", "ARG A=1\n", "{f}:1:1: FROM missing: no build stage in the Dockerfile"),
    ("FROM two words", "FROM a b\n", "{f}:1:1: FROM: FROM requires either one or three arguments"),
    (
        "bad stage name",
        "FROM a AS 1x\n",
        '{f}:1:1: FROM: invalid name for build stage: "1x", name can\'t start with a number or contain symbols',
    ),
    (
        "bad escape directive",
        "# escape=x\nFROM a\n",
        "{f}:1:1: invalid escape token 'x' does not match ` or \\",
    ),
    (
        "escape directive twice",
        "# escape=\\\n# escape=`\nFROM a\n",
        "{f}:2:1: only one escape parser directive can be used",
    ),
    ("unterminated heredoc", "FROM a\nRUN <<EOF\necho hi\n", "{f}:2:1: RUN: unterminated heredoc"),
    ("empty file", "", "{f}:1:1: file with no instructions"),
    ("only comments", "# just\n\n# comments\n", "{f}:3:1: file with no instructions"),
    (
        "bad substitution",
        "FROM a\nENV X=${Y\n",
        "{f}:2:1: ENV: failed to process \"${Y\": syntax error: missing '}'",
    ),
    (
        "required variable",
        "FROM a\nWORKDIR ${DIR:?set DIR}\n",
        '{f}:2:1: WORKDIR: failed to process "${DIR:?set DIR}": DIR: set DIR',
    ),
    (
        "--from names its own stage",
        "FROM a AS x\nCOPY --from=x a b\n",
        "{f}:2:1: COPY: --from=x refers to the stage itself (circular dependency)",
    ),
    (
        "--from names a later stage",
        "FROM a AS x\nCOPY --from=y a b\nFROM b AS y\n",
        "{f}:2:1: COPY: --from=y refers to a later stage (circular dependency)",
    ),
    (
        "--from index not earlier",
        "FROM a\nCOPY --from=3 a b\n",
        "{f}:2:1: COPY: invalid --from=3: stage index 3 is not an earlier stage",
    ),
    (
        "mount from a later stage",
        "FROM a AS x\nRUN --mount=from=y,target=/m true\nFROM b AS y\n",
        "{f}:2:1: RUN: --from=y refers to a later stage (circular dependency)",
    ),
]


def _run_main(
    tmp_path: Path, text: str, *extra: str, capsys: pytest.CaptureFixture[str]
) -> tuple[int, str, str]:
    dockerfile = tmp_path / "Dockerfile"
    dockerfile.write_text(text)
    code = main(["plan", "-f", str(dockerfile), *extra, str(tmp_path)])
    out, err = capsys.readouterr()
    return code, out, err


@pytest.mark.parametrize(("what", "text", "message"), BAD, ids=[b[0] for b in BAD])
def test_bad_dockerfile(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], what: str, text: str, message: str
) -> None:
    code, _out, err = _run_main(tmp_path, text, capsys=capsys)
    assert code == 2
    assert err == message.replace("{f}", str(tmp_path / "Dockerfile")) + "\n"


def test_unknown_target(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = _run_main(tmp_path, "FROM a AS x\n", "--target", "nope", capsys=capsys)
    assert (code, err) == (
        2,
        f'{tmp_path / "Dockerfile"}: target stage "nope" could not be found\n',
    )


def test_duplicate_stage_name_is_a_warning(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, err = _run_main(tmp_path, "FROM a AS x\nFROM b AS x\nRUN true\n", capsys=capsys)
    assert code == 0
    assert err == (
        f'{tmp_path / "Dockerfile"}:2: DuplicateStageName: Duplicate stage name "x", '
        "stage names should be unique\n"
    )
    assert "stage 1 AS x: FROM b" in out


def test_from_naming_no_stage_is_an_image(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, _ = _run_main(
        tmp_path, "FROM a\nCOPY --from=nginx:1 /etc/nginx /etc/nginx\n", capsys=capsys
    )
    assert code == 0 and "COPY --from=nginx:1 /etc/nginx /etc/nginx" in out


def test_missing_dockerfile_and_context(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["plan", "-f", str(tmp_path / "nope"), str(tmp_path)]) == 2
    assert capsys.readouterr().err == f"pybuild plan: Dockerfile '{tmp_path / 'nope'}' not found\n"
    assert main(["plan", str(tmp_path / "missing")]) == 2
    assert (
        capsys.readouterr().err
        == f"pybuild plan: context '{tmp_path / 'missing'}' is not a directory\n"
    )
    assert main(["plan"]) == 2
    assert "the following arguments are required: CONTEXT" in capsys.readouterr().err


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("FROM a\nCPY a b\n", "Dockerfile:2:1: unknown instruction: CPY (did you mean COPY?)"),
        ("FROM a\nRUN <<EOF\n", "Dockerfile:2:1: RUN: unterminated heredoc"),
        (
            "FROM a AS x\nCOPY --from=x a b\n",
            "Dockerfile:2:1: COPY: --from=x refers to the stage itself (circular dependency)",
        ),
    ],
)
def test_subprocess_pybuild_plan(tmp_path: Path, text: str, message: str) -> None:
    (tmp_path / "Dockerfile").write_text(text)
    proc = subprocess.run(
        [sys.executable, "-m", "builder.cli", "plan", "-f", "Dockerfile", "."],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        env={"PYTHONPATH": str(REPO), "PATH": "/usr/bin:/bin"},
    )
    assert (proc.returncode, proc.stderr, proc.stdout) == (2, message + "\n", "")


def test_make_plan_raises_typed_error() -> None:
    from builder.errors import DockerfileError

    with pytest.raises(DockerfileError) as err:
        make_plan("FROM a\nCOPY --nope a b\n", file="x/Dockerfile")
    assert err.value.span.line == 2 and err.value.exit_code == 2 and err.value.instruction == "COPY"
