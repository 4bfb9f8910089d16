"""What the engine does for each typed instruction: BuildKit's dispatch(), one `match`
on the front end's instruction types.

- `layer_family(instruction)`: the module that runs a filesystem step (RUN, COPY/ADD,
  WORKDIR: the steps BuildKit numbers as vertices), a `LayerFamily`; None for a
  metadata instruction.
- `config_change(step, state)`: a metadata instruction's effect on the config and its
  history `created_by` (the `builder.config_ops` functions; ARG takes the values the
  plan resolved); `sets_cmd(instruction)`: whether it is a CMD, which a later
  ENTRYPOINT of the stage keeps.

Adding an instruction to the engine is one `case` here (and, for a new kind of layer
step, its family module).
"""

from __future__ import annotations

from typing import Protocol

from builder import config_ops as ops
from builder.cache import CacheResult
from builder.engine import copy_step, run_step, workdir_step
from builder.engine.state import BuildContext, StageState
from builder.errors import BuildError
from builder.frontend.instructions.model import (
    Arg,
    Cmd,
    Copy,
    Entrypoint,
    Env,
    Expose,
    Healthcheck,
    Instruction,
    KeyValue,
    Label,
    Maintainer,
    Onbuild,
    Run,
    Shell,
    StopSignal,
    User,
    Volume,
    Workdir,
)
from builder.frontend.planned import PlannedStage, PlannedStep


class LayerFamily(Protocol):
    """The seam of a filesystem step: what the build adds to its cache record, how a
    miss runs, and the config and history entry it leaves."""

    def key_inputs(
        self, ctx: BuildContext, step: PlannedStep, state: StageState
    ) -> tuple[dict[str, str], dict[str, str]]:
        """(per-file source hashes, other facts) for `builder.cache_inputs.step_record`."""
        ...

    def execute(
        self,
        ctx: BuildContext,
        stage: PlannedStage,
        step: PlannedStep,
        state: StageState,
        vid: int,
        position: str,
        key: str,
    ) -> CacheResult: ...

    def committed(self, step: PlannedStep, state: StageState) -> ops.Applied: ...


def layer_family(ins: Instruction) -> LayerFamily | None:
    match ins:
        case Run():
            return run_step
        case Copy():  # and ADD
            return copy_step
        case Workdir():
            return workdir_step
    return None


def _pairs(pairs: tuple[KeyValue, ...]) -> list[tuple[str, str]]:
    return [(p.key, p.value) for p in pairs]


def config_change(step: PlannedStep, state: StageState) -> ops.Applied:
    """Raises BuildError (a `ConfigOpError`) for a value BuildKit rejects."""
    img = state.config
    match step.instruction:
        case Env(pairs=pairs):
            return ops.env(img, _pairs(pairs))
        case Label(pairs=pairs):
            return ops.label(img, _pairs(pairs))
        case Entrypoint(command=command, exec_form=exec_form):
            return ops.entrypoint(img, list(command), not exec_form, state.cmd_set)
        case Cmd(command=command, exec_form=exec_form):
            return ops.cmd(img, list(command), not exec_form)
        case Expose(ports=ports):
            return ops.expose(img, list(ports))
        case Volume(paths=paths):
            return ops.volume(img, list(paths))
        case User(value=name):
            return ops.user(img, name)
        case StopSignal(value=signal):
            return ops.stopsignal(img, signal)
        case Healthcheck(none=True):
            return ops.healthcheck(img, ["NONE"])
        case Healthcheck() as hc:
            return ops.healthcheck(
                img,
                list(hc.test),
                interval=hc.interval,
                timeout=hc.timeout,
                start_period=hc.start_period,
                start_interval=hc.start_interval,
                retries=hc.retries,
            )
        case Shell(shell=argv):
            return ops.shell(img, list(argv))
        case Onbuild(expression=expression):
            return ops.onbuild(img, expression)
        case Maintainer(maintainer=name):
            return ops.maintainer(img, name)
        case Arg():
            return ops.arg(img, step.arg_values)
        case other:
            raise BuildError(f"unsupported instruction {other.keyword}")


def sets_cmd(ins: Instruction) -> bool:
    """CMD, not ENTRYPOINT (BuildKit's cmdSet: an ENTRYPOINT after it keeps it)."""
    return isinstance(ins, Cmd) and not isinstance(ins, Entrypoint)
