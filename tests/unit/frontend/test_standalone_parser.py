"""The committed lark standalone parser (builder/frontend/_dockerfile_parser.py) is what
scripts/gen_parser.py makes from builder/frontend/grammar.lark: its header records the grammar's
sha256 (so an edited grammar without a regenerated parser fails here and in CI's
`gen_parser.py --check`), it carries the start-up patches, and it parses the whole
corpus as a fresh `lark.Lark` does."""

from __future__ import annotations

import importlib.util
import subprocess
import sys
from pathlib import Path

from tests.fixtures.common import REPO

SCRIPT = REPO / "scripts" / "gen_parser.py"
_spec = importlib.util.spec_from_file_location("gen_parser", SCRIPT)
assert _spec and _spec.loader
gen_parser = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(gen_parser)
GRAMMAR, OUT = gen_parser.GRAMMAR, gen_parser.OUT


def test_generated_parser_matches_grammar_hash() -> None:
    assert gen_parser.header_hash() == gen_parser._grammar_hash(), (
        "grammar.lark changed: run python3 scripts/gen_parser.py"
    )


def test_check_fails_on_a_grammar_edited_without_regenerating(tmp_path: Path) -> None:
    parser = tmp_path / "parser.py"
    parser.write_text(OUT.read_text().replace(gen_parser._grammar_hash(), "0" * 64, 1))
    stale = subprocess.run(
        [sys.executable, str(SCRIPT), "--check", str(parser)], capture_output=True, text=True
    )
    assert stale.returncode == 1
    assert (
        "grammar.lark changed but builder/frontend/_dockerfile_parser.py was not regenerated"
        in (stale.stderr)
    )
    ok = subprocess.run([sys.executable, str(SCRIPT), "--check"], capture_output=True, text=True)
    assert ok.returncode == 0 and ok.stderr == ""


def test_generated_parser_has_the_startup_patches() -> None:
    text = OUT.read_text()
    assert "raise ImportError('regex unused')" in text and "logger = _QuietLogger()" in text
    assert "\nimport logging\n" not in text and "import pickle, zlib, base64" not in text


def test_generated_parser_agrees_with_fresh_lark(conformance: Path) -> None:
    import lark

    from builder.frontend import _dockerfile_parser as generated
    from builder.frontend.syntax import _Scanner

    fresh = lark.Lark(GRAMMAR.read_text(), parser="lalr", propagate_positions=True)
    committed = generated.Lark_StandAlone()
    files = sorted((conformance / "buildkit-parser" / "testfiles").glob("*/Dockerfile"))
    assert files
    for path in files:
        scanner = _Scanner(path.read_text(), str(path))
        lines = [line.strip() for _span, line in scanner.logical_lines()]
        text = "".join(f"#{d.name}={d.value}\n" for d in scanner.directives)
        text += "".join(f"{line}\n" for line in lines if line)
        assert _shape(fresh.parse(text)) == _shape(committed.parse(text)), path


def _shape(node: object) -> object:
    if hasattr(node, "data"):
        return (str(node.data), [_shape(c) for c in node.children])
    return (node.type, str(node))
