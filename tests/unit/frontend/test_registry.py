"""Every instruction class registers under its keyword, and one that cannot read
itself is refused when it is defined, not when a Dockerfile first uses it."""

from __future__ import annotations

from dataclasses import dataclass

import pytest

from builder.errors import Span
from builder.frontend.instructions.base import REGISTRY, Instruction
from builder.frontend.instructions.model import KEYWORDS, Env, Expose, Label, Onbuild


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


def test_every_instruction_class_shares_the_base_equality_hash_and_repr() -> None:
    # generated per class, they are a tenth of a no-op rebuild's CPU (see Instruction)
    for cls in REGISTRY.values():
        for name in ("__eq__", "__hash__", "__repr__"):
            assert getattr(cls, name) is getattr(Instruction, name), (cls.__name__, name)


def test_the_shared_methods_behave_as_generated_ones() -> None:
    span = Span(3, 0)
    a = Expose(span=span, original="EXPOSE 80", ports=("80",))
    b = Expose(span=span, original="EXPOSE 80", ports=("80",))
    c = Expose(span=span, original="EXPOSE 80", ports=("81",))
    assert a == b and hash(a) == hash(b) and a != c
    assert Label(span=span, original="LABEL a=b") != Env(span=span, original="LABEL a=b")
    assert repr(a) == f"Expose(span={span!r}, original='EXPOSE 80', ports=('80',))"
    # ONBUILD's parsed trigger is not compared, as its field says
    on = Onbuild(span=span, original="ONBUILD RUN x", expression="RUN x")
    assert on == Onbuild(span=span, original="ONBUILD RUN x", expression="RUN x", trigger=a)
