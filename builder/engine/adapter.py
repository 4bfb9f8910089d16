"""The front end's `BuildPlan` -> the engine's model (builder.engine.model)."""

from __future__ import annotations

from typing import Any

from builder.engine.model import Plan


def make_plan(ctx: Any) -> Plan:
    raise NotImplementedError("front end plan not wired yet")
