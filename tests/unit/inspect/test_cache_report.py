"""The build-time cache report the engine prints after each build."""

from __future__ import annotations

from builder.inspect.cache_report import StepOutcome, cache_report_json, format_cache_report


def _steps() -> list[StepOutcome]:
    out = [StepOutcome(i, f"RUN step{i}", True, line=i + 1) for i in range(1, 10)]
    out.append(
        StepOutcome(
            10, "COPY . /app", False, line=11, reason="src/main.py changed", kind="source-changed"
        )
    )
    out.append(StepOutcome(11, "RUN make", False, line=12, kind="parent"))
    out.append(StepOutcome(12, "RUN " + "x" * 80, False, kind="parent"))
    return out


def test_summary_and_reasons() -> None:
    text = format_cache_report(_steps())
    lines = text.splitlines()
    assert lines[0] == "12 steps: 9 cached, 3 re-ran"
    assert lines[1] == "  step 10 Dockerfile:11 `COPY . /app` re-ran: src/main.py changed"
    assert lines[2] == "  step 11 Dockerfile:12 `RUN make` re-ran: an earlier step re-ran"
    assert lines[3].startswith("  step 12 `RUN xxx") and "...` re-ran" in lines[3]
    assert len(lines) == 4


def test_json_matches_text() -> None:
    doc = cache_report_json(_steps())
    assert (doc["steps"], doc["cached"], doc["reran"]) == (12, 9, 3)
    assert doc["summary"] == "12 steps: 9 cached, 3 re-ran"
    assert doc["outcomes"][9]["reason"] == "src/main.py changed"
    assert [o["cached"] for o in doc["outcomes"]].count(False) == 3


def test_all_cached() -> None:
    assert format_cache_report([StepOutcome(1, "RUN a", True)]) == "1 step: 1 cached, 0 re-ran"
