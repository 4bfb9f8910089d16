"""Every instruction class registers under its keyword, and one that cannot read
itself is refused when it is defined, not when a Dockerfile first uses it."""

from __future__ import annotations

from dataclasses import dataclass

import pytest

from builder.frontend.instructions.base import REGISTRY, Instruction
from builder.frontend.instructions.model import KEYWORDS


def test_every_keyword_has_a_class_that_reads_it() -> None:
    assert len(KEYWORDS) == 18
    for kw in KEYWORDS:
        cls = REGISTRY[kw]
        assert cls.keyword == kw and callable(cls.parse)


def test_a_registered_class_without_parse_is_refused_at_definition() -> None:
    with pytest.raises(TypeError, match=r"NoReader \(NOREADER\) has no parse\(\)"):

        @dataclass(frozen=True)
        class NoReader(Instruction):
            """An instruction that forgot its reader."""

            keyword = "NOREADER"

    assert "NOREADER" not in REGISTRY
