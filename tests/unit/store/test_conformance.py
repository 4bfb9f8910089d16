"""The image-spec conformance tables run through pybuild's own parsers, and the
schemas themselves sanity-checked against the spec examples."""

from __future__ import annotations

import json

import pytest

from tests.unit.store.oci_schema import oci_dir, parser_accepts, schema_errors

CASES = json.loads((oci_dir() / "schema-tests" / "index.json").read_text())
EXAMPLES = json.loads((oci_dir() / "spec-examples" / "index.json").read_text())


def _load(case: dict) -> object | None:
    text = (oci_dir() / "schema-tests" / case["file"]).read_text()
    if case.get("preprocess"):
        for docker, oci in CASES["compat_media_type_map"].items():
            text = text.replace(docker, oci)
    try:
        return json.loads(text)
    except ValueError:
        return None


@pytest.mark.parametrize("case", CASES["cases"], ids=lambda c: c["file"])
def test_schema_tests_through_our_parsers(case: dict) -> None:
    doc = _load(case)
    want = case["expected"] == "valid"
    got = doc is not None and parser_accepts(case["validator_media_type"], doc)
    assert got == want, case.get("description")


def test_plain_schema_agrees_except_the_four_documented_cases() -> None:
    extra_checks = {
        "descriptor/15-invalid.json",
        "descriptor/17-invalid.json",
        "descriptor/29-invalid.json",
        "config/09-invalid.json",
    }
    disagree = set()
    for case in CASES["cases"]:
        doc = _load(case)
        ok = doc is not None and not schema_errors(case["validator_media_type"], doc)
        if ok != (case["expected"] == "valid"):
            disagree.add(case["file"])
    assert disagree == extra_checks
    assert len(CASES["cases"]) == 71


@pytest.mark.parametrize("ex", EXAMPLES, ids=lambda e: e["file"])
def test_spec_examples_validate_and_parse(ex: dict) -> None:
    doc = json.loads((oci_dir() / "spec-examples" / ex["file"]).read_text())
    assert schema_errors(ex["media_type"], doc) == []
    assert parser_accepts(ex["media_type"], doc)
