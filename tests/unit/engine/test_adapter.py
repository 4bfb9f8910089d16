"""The front end's plan -> the engine's model: kinds, values, ARG order for RUN's
history, COPY --from stage indices, ONBUILD triggers (pure, no root)."""

from __future__ import annotations

from builder.engine import adapter
from builder.frontend.plan import make_plan

DF = """\
FROM busybox AS build
ARG V=1
ARG W
ENV E=$V
RUN --mount=type=cache,target=/c,id=x echo $V
COPY --chown=app:app --chmod=640 a b /dst/
FROM scratch
COPY --from=build /dst /out
HEALTHCHECK --interval=5s --retries=2 CMD ["true"]
CMD echo hi
EXPOSE 80
"""


def _plan(**kw):
    bp = make_plan(DF, build_args={"V": "9"}, **kw)
    return adapter.convert(bp, {"V": "9"}, "linux/amd64", "Dockerfile")


def test_stages_and_steps():
    plan = _plan()
    assert [s.name for s in plan.stages] == ["build", ""]
    assert plan.target == 1 and plan.stages[1].base == "scratch"
    assert plan.stages[1].deps == frozenset({0})
    build = plan.stages[0]
    assert build.from_line == 1 and build.from_text == "FROM busybox AS build"
    kinds = [s.kind for s in build.steps]
    assert kinds == ["ARG", "ARG", "ENV", "RUN", "COPY"]
    arg1, arg2, env, run, copy = build.steps
    assert arg1.get("resolved") == [("V", "9")] and arg2.get("resolved") == [("W", None)]
    assert env.get("pairs") == [("E", "9")]
    assert run.get("shell_form") is True and run.get("args") == ["echo $V"]
    m = run.get("mounts")[0]
    assert (m.type, m.target, m.id, m.readonly) == ("cache", "/c", "x", False)
    assert run.build_args_ordered == (("V", "9"), ("W", ""))
    assert run.line == 5 and run.text.startswith("RUN --mount=type=cache")
    assert copy.get("sources") == ["a", "b"] and copy.get("dest") == "/dst/"
    assert (copy.get("chown"), copy.get("chmod")) == ("app:app", "640")


def test_final_stage_values():
    final = _plan().stages[1]
    copy, hc, cmd, expose = final.steps
    assert copy.get("from") == 0
    assert hc.get("test") == ["CMD", "true"]
    assert hc.get("durations")["interval"] == 5_000_000_000
    assert hc.get("durations")["retries"] == 2
    assert cmd.get("shell_form") is True and cmd.get("args") == ["echo hi"]
    assert expose.get("ports") == ["80"]


def test_target_prunes():
    plan = _plan(target="build")
    assert [s.index for s in plan.stages] == [0] and plan.target == 0


def test_onbuild_triggers_become_steps_at_the_from_line():
    base = {"config": {"Env": ["P=/x"], "OnBuild": ["RUN echo $P", "ENV Q=1"]}}
    steps = adapter.onbuild_steps(["RUN echo $P", "ENV Q=1"], base, {}, "linux/amd64", 7)
    assert [s.kind for s in steps] == ["RUN", "ENV"]
    assert all(s.line == 7 and s.onbuild for s in steps)
    assert steps[0].env["P"] == "/x"
