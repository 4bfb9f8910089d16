"""`pybuild plan -f Dockerfile [--target T] [--build-arg K=V] [--platform P] [--json] CONTEXT`:
print the pure build plan (stages the target needs, their steps with expanded words,
dependencies, cache-key inputs and warnings). Nothing is built; no root needed."""

from __future__ import annotations

import argparse
import json
import os
import sys

from builder.errors import UsageError


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("context", metavar="CONTEXT", help="build context directory")
    parser.add_argument(
        "-f", "--file", default=None, help="Dockerfile (default CONTEXT/Dockerfile; - for stdin)"
    )
    parser.add_argument("--target", default=None, help="stage to plan for")
    parser.add_argument(
        "--build-arg",
        action="append",
        default=[],
        metavar="K=V",
        help="build argument; a bare K takes the environment's value",
    )
    parser.add_argument("--platform", default=None, help="target platform, e.g. linux/amd64")
    parser.add_argument("--json", action="store_true", help="print the plan as JSON")


def _build_args(items: list[str]) -> dict[str, str]:
    out: dict[str, str] = {}
    for item in items:
        key, eq, value = item.partition("=")
        if not eq:
            if key not in os.environ:
                continue
            value = os.environ[key]
        out[key] = value
    return out


def run(args: argparse.Namespace) -> int:
    from builder.frontend.dockerignore import find_ignore_file
    from builder.frontend.plan import make_plan, plan_to_json
    from store.oci.platform import host_platform

    if not os.path.isdir(args.context):
        raise UsageError(f"pybuild plan: context {args.context!r} is not a directory")
    path = args.file or os.path.join(args.context, "Dockerfile")
    if path == "-":
        text, shown = sys.stdin.read(), "Dockerfile"
    else:
        try:
            with open(path, encoding="utf-8", errors="surrogateescape") as f:
                text = f.read()
        except FileNotFoundError:
            raise UsageError(f"pybuild plan: Dockerfile {path!r} not found") from None
        except OSError as e:
            raise UsageError(f"pybuild plan: cannot read {path!r}: {e.strerror}") from None
        shown = path
    plan = make_plan(
        text,
        file=shown,
        build_args=_build_args(args.build_arg),
        target=args.target,
        platform=args.platform,
        build_platform=str(host_platform()),
    )
    for warning in plan.warnings:
        print(warning, file=sys.stderr)
    ignore = find_ignore_file(args.context, None if path == "-" else path)
    if args.json:
        doc = plan_to_json(plan)
        doc["dockerignore"] = str(ignore) if ignore else None
        json.dump(doc, sys.stdout, indent=2, ensure_ascii=False)
        sys.stdout.write("\n")
        return 0
    out = []
    for stage in plan.stages:
        name = f" AS {stage.name}" if stage.name else ""
        base = f"stage {stage.base}" if isinstance(stage.base, int) else stage.base
        deps = f"  needs stages {', '.join(map(str, stage.deps))}" if stage.deps else ""
        target = "  (target)" if stage.index == plan.target else ""
        out.append(f"stage {stage.index}{name}: FROM {base} [{stage.platform}]{deps}{target}")
        for step in stage.steps:
            first = step.text.split("\n", 1)[0]
            out.append(f"  {step.number:>3}  line {step.instruction.span.line:<4} {first}")
    if ignore:
        out.append(f"ignore file: {ignore}")
    print("\n".join(out))
    return 0
