"""The front end's plan -> the engine's plan: stages, typed steps with what the planner
resolved (ARG values, RUN's history args, COPY --from stage indices), ONBUILD triggers
(pure, no root)."""

from __future__ import annotations

from builder.engine import dispatch, planning
from builder.frontend.instructions import Copy, Healthcheck, Run
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
    return make_plan(DF, build_args={"V": "9"}, **kw)


def test_stages_and_steps():
    plan = _plan()
    assert [s.name for s in plan.stages] == ["build", ""]
    assert plan.target == 1 and plan.stages[1].base == "scratch"
    assert plan.stages[1].deps == (0,)
    build = plan.stages[0]
    assert build.from_line == 1 and build.from_text == "FROM busybox AS build"
    kinds = [s.instruction.keyword for s in build.steps]
    assert kinds == ["ARG", "ARG", "ENV", "RUN", "COPY"]
    arg1, arg2, env, run, copy = build.steps
    assert arg1.arg_values == (("V", "9"),) and arg2.arg_values == (("W", None),)
    assert [(p.key, p.value) for p in env.instruction.pairs] == [("E", "9")]
    assert isinstance(run.instruction, Run)
    assert not run.instruction.exec_form and run.instruction.command == ("echo $V",)
    m = run.instruction.mounts[0]
    assert (m.type, m.target, m.id, m.readonly) == ("cache", "/c", "x", False)
    assert run.history_args == (("V", "9"), ("W", ""))
    assert run.line == 5 and run.written.startswith("RUN --mount=type=cache")
    assert isinstance(copy.instruction, Copy)
    assert copy.instruction.sources == ("a", "b") and copy.instruction.dest == "/dst/"
    assert (copy.instruction.chown, copy.instruction.chmod) == ("app:app", "640")


def test_final_stage_values():
    final = _plan().stages[1]
    copy, hc, cmd, expose = final.steps
    assert copy.from_stage == 0
    assert isinstance(hc.instruction, Healthcheck)
    assert hc.instruction.test == ("CMD", "true")
    assert hc.instruction.interval == 5_000_000_000 and hc.instruction.retries == 2
    assert not cmd.instruction.exec_form and cmd.instruction.command == ("echo hi",)
    assert expose.instruction.ports == ("80",)


def test_the_engine_dispatches_on_the_instruction_type():
    build = _plan().stages[0]
    families = [dispatch.layer_family(s.instruction) for s in build.steps]
    assert families[:3] == [None, None, None]
    assert [f.__name__ for f in families[3:]] == [
        "builder.engine.run_step",
        "builder.engine.copy_step",
    ]


def test_a_stage_built_on_another_lists_its_args_in_run_history():
    text = "FROM a AS one\nARG X=1\nFROM one\nARG Y\nRUN true\n"
    run = make_plan(text, build_args={"Y": "2"}).stages[1].steps[1]
    assert run.history_args == (("X", ""), ("Y", "2"))


def test_target_prunes():
    plan = _plan(target="build")
    assert [s.index for s in plan.stages] == [0] and plan.target == 0


def test_onbuild_triggers_become_steps_at_the_from_line():
    base = {"config": {"Env": ["P=/x"], "OnBuild": ["RUN echo $P", "ENV Q=1"]}}
    steps = planning.onbuild_steps(["RUN echo $P", "ENV Q=1"], base, {}, "linux/amd64", 7)
    assert [s.instruction.keyword for s in steps] == ["RUN", "ENV"]
    assert all(s.line == 7 and s.onbuild for s in steps)
    assert dict(steps[0].env)["P"] == "/x"
