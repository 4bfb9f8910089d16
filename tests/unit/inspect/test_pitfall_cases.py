"""Every testdata/pitfalls case reports exactly its expected findings (ids, lines,
bytes, steps), and its fixed version reports none. Images are made in a real store
from each case's layer spec (see cases.py); analysis runs through the CLI."""

from __future__ import annotations

import json
from pathlib import Path

import jsonschema
import pytest

from builder.cli import main
from builder.inspect.pitfalls import CATALOG
from tests.unit.inspect.cases import build_case, case_ids, expected

SCHEMA = json.loads(
    (Path(__file__).resolve().parents[3] / "builder" / "inspect" / "schema.json").read_text()
)


def _findings(capsys: pytest.CaptureFixture[str], argv: list[str]) -> list[dict]:
    capsys.readouterr()
    assert main(argv) == 0
    doc = json.loads(capsys.readouterr().out)
    jsonschema.validate(doc, SCHEMA)
    return sorted(
        (
            {"id": f["id"], "lines": f["lines"], "bytes": f["bytes"], "steps": f["steps"]}
            for f in doc["pitfalls"]
        ),
        key=lambda f: (f["id"], f["lines"]),
    )


def _sorted(fs: list[dict]) -> list[dict]:
    return sorted(fs, key=lambda f: (f["id"], f["lines"]))


@pytest.mark.parametrize("case", case_ids())
def test_case_reports_exactly_expected(
    case: str, store_root: Path, busybox_tar: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    df = build_case(case, "Dockerfile", busybox_tar.read_bytes(), store_root, f"case-{case}:bad")
    got = _findings(capsys, ["inspect", f"case-{case}:bad", "--json", "-f", str(df)])
    assert got == _sorted(expected(case)["findings"])


@pytest.mark.parametrize("case", case_ids())
def test_fixed_case_reports_nothing(
    case: str, store_root: Path, busybox_tar: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    df = build_case(
        case, "Dockerfile.fixed", busybox_tar.read_bytes(), store_root, f"case-{case}:fixed"
    )
    assert _findings(capsys, ["inspect", f"case-{case}:fixed", "--json", "-f", str(df)]) == []


@pytest.mark.parametrize("case", case_ids())
def test_case_without_dockerfile_uses_history_lines(
    case: str, store_root: Path, busybox_tar: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """pybuild-built images carry their lines, so -f is not needed."""
    build_case(case, "Dockerfile", busybox_tar.read_bytes(), store_root, f"case-{case}:bad")
    got = _findings(capsys, ["inspect", f"case-{case}:bad", "--json"])
    assert got == _sorted(expected(case)["findings"])


def test_catalog_covers_the_issue_checks() -> None:
    assert len(case_ids()) >= 12
    for cid in case_ids():
        assert cid in CATALOG
    for e in CATALOG.values():
        assert e.title and e.fix.before and e.fix.after and e.fix.before != e.fix.after
