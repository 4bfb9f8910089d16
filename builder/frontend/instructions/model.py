"""Typed Dockerfile instructions: one frozen dataclass per instruction (ARCHITECTURE §3, stage 2).

The index of the instruction classes, which live by family, each class with its fields,
flags, reader (`parse`), expansion and canonical text (see `base.Instruction`):
`stage` (FROM, ARG, ONBUILD), `run` (RUN), `files` (COPY, ADD), `config` (ENV, LABEL,
EXPOSE, VOLUME, USER, WORKDIR, STOPSIGNAL, MAINTAINER) and `process` (CMD, ENTRYPOINT,
SHELL, HEALTHCHECK); the values they hold (`KeyValue`;
a RUN's mounts are `instructions.mount.Mount`s, heredocs `builder.frontend.heredoc.Heredoc`s); and `KEYWORDS`, every instruction keyword. (No `__all__`: a star import
takes every public name, so a class added to a family needs no line here.)

Every instruction carries `span` (where it is), `original` (the logical line as
written, for history `created_by` and `inspect`) and `keyword` (upper case). Words are
as written (unexpanded) after `parse_dockerfile`; `builder.frontend.plan` returns copies
with the words expanded where Docker expands them (`expand(fn)` on each class: the base
class expands nothing).
"""

from __future__ import annotations

from builder.frontend.instructions.base import REGISTRY as REGISTRY
from builder.frontend.instructions.base import Expander as Expander
from builder.frontend.instructions.base import Instruction as Instruction
from builder.frontend.instructions.base import KeyValue as KeyValue
from builder.frontend.instructions.config import *  # noqa: F403 - the family's classes
from builder.frontend.instructions.files import *  # noqa: F403
from builder.frontend.instructions.process import *  # noqa: F403
from builder.frontend.instructions.run import *  # noqa: F403
from builder.frontend.instructions.stage import *  # noqa: F403

KEYWORDS: tuple[str, ...] = tuple(REGISTRY)
