"""The setrlimit(2) resource of each `--ulimit` name Docker knows
(`builder.units.ULIMITS`), which PID 1 sets before it execs the command."""

from __future__ import annotations

import resource

from builder.units import ULIMITS

# RLIMIT_LOCKS (10 on Linux) is the one Python's resource module does not name
RESOURCES = {n: 10 if n == "locks" else getattr(resource, f"RLIMIT_{n.upper()}") for n in ULIMITS}
