"""`pybuild inspect IMAGE`: layers, wasted bytes and pitfalls of an image (ARCHITECTURE §10).

IMAGE is a stored image, `oci:DIR[:REF]`, `oci-archive:FILE[:REF]`,
`docker-archive:FILE[:REF]` or a registry reference (streamed, never unpacked to disk).
Output: a terminal view (default), `--json` (schema: builder/inspect/schema.json),
`--html FILE`, and `--ci` with dive-style thresholds.
"""

from __future__ import annotations

import argparse
import json
import sys


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "image",
        help="image name, oci:DIR, oci-archive:FILE, docker-archive:FILE or a registry reference",
    )
    parser.add_argument(
        "-f",
        "--file",
        dest="dockerfile",
        default=None,
        help="the Dockerfile the image was built from (to map layers to lines "
        "when the image does not record them)",
    )
    parser.add_argument(
        "--context",
        default=None,
        metavar="DIR",
        help="the build context (checks it for .git/node_modules without a .dockerignore)",
    )
    parser.add_argument("--json", action="store_true", help="print the analysis as JSON")
    parser.add_argument(
        "--html", metavar="FILE", default=None, help="write a self-contained HTML report to FILE"
    )
    parser.add_argument(
        "--ci", action="store_true", help="check thresholds and exit 1 when one is violated"
    )
    parser.add_argument(
        "--ci-config",
        metavar="FILE",
        default=None,
        help="thresholds file (default: .pybuild-ci.yaml when present)",
    )
    parser.add_argument(
        "--lowest-efficiency",
        default=None,
        metavar="RATIO",
        help="CI: fail below this efficiency (0..1, or N%%; 'disabled')",
    )
    parser.add_argument(
        "--highest-wasted-bytes",
        default=None,
        metavar="SIZE",
        help="CI: fail above this many wasted bytes (e.g. 20MB; 'disabled')",
    )
    parser.add_argument(
        "--highest-user-wasted-percent",
        default=None,
        metavar="RATIO",
        help="CI: fail above this wasted/user-bytes ratio (0..1 as dive, or N%%; 'disabled')",
    )
    parser.add_argument(
        "--top",
        type=int,
        default=10,
        metavar="N",
        help="how many wasted paths to list (default 10)",
    )
    parser.add_argument("--no-color", action="store_true", help="plain terminal output")


def run(args: argparse.Namespace) -> int:
    from builder.inspect.analyze import analyze_source
    from builder.inspect.ci import evaluate, format_ci, load_thresholds
    from builder.inspect.dockerfile import parse_dockerfile
    from builder.inspect.errors import SourceError
    from builder.inspect.report_html import write_html
    from builder.inspect.report_terminal import render
    from builder.inspect.sources import open_source

    dockerfile = None
    if args.dockerfile:
        try:
            with open(args.dockerfile, encoding="utf-8", errors="replace") as f:
                dockerfile = parse_dockerfile(f.read(), args.dockerfile)
        except OSError as e:
            raise SourceError(args.dockerfile, e.strerror or "cannot read") from None
    with open_source(args.image) as src:
        analysis = analyze_source(src, dockerfile, top_n=max(args.top, 1), context_dir=args.context)
    if args.html:
        write_html(analysis, args.html)
    rc = 0
    if args.ci:
        th = load_thresholds(args)
        results = evaluate(analysis, th)
        if not args.json:
            print(format_ci(analysis, results))
        rc = 1 if any(not r.ok for r in results) else 0
    if args.json:
        json.dump(analysis.to_json(), sys.stdout, indent=2)
        sys.stdout.write("\n")
    elif not args.ci:
        render(analysis, color=not args.no_color and sys.stdout.isatty())
    if args.html and not args.json:
        print(f"wrote {args.html}", file=sys.stderr)
    return rc
