"""`pybuild [build] [OPTIONS] CONTEXT`: the docker-build flag surface (ARCHITECTURE §2).

Parses and validates every flag into `builder.engine.options.BuildOptions`, runs the
engine, then prints the image id for `-q` and writes `--iidfile`. The environment
variable PYBUILD_LAYER_COMPRESSION (gzip, the default; zstd; none) picks how new
layers are stored. The engine is
imported only when a build really runs, so `--help` stays fast.
"""

from __future__ import annotations

import ipaddress
import json
import os
import sys
from pathlib import Path

from builder.errors import UsageError
from builder.progress import MODES
from builder.units import parse_size, parse_ulimit
from store.oci.platform import Platform


def add_arguments(p) -> None:  # argparse parser
    p.add_argument("context", metavar="CONTEXT", help="build context directory")
    p.add_argument("-f", "--file", help="Dockerfile (default CONTEXT/Dockerfile; - = stdin)")
    p.add_argument("-t", "--tag", action="append", default=[], help="name:tag (repeatable)")
    p.add_argument("--build-arg", action="append", default=[], metavar="K[=V]")
    p.add_argument("--target", help="build only up to this stage")
    p.add_argument("--no-cache", action="store_true", help="do not use the build cache")
    p.add_argument("--pull", action="store_true", help="always pull base images")
    p.add_argument("--platform", help="os/arch[/variant]")
    p.add_argument("--label", action="append", default=[], metavar="K=V")
    p.add_argument("--iidfile", help="write the image id to this file")
    p.add_argument("--progress", default="auto", choices=MODES)
    p.add_argument("-q", "--quiet", action="store_true", help="print only the image id")
    p.add_argument("--network", default="default", choices=("default", "none", "host"))
    p.add_argument("--memory", "-m", help="memory limit for RUN steps (e.g. 512m)")
    p.add_argument("--cpus", type=float, help="CPU limit for RUN steps")
    p.add_argument("--pids-limit", type=int, help="process limit for RUN steps")
    p.add_argument("--secret", action="append", default=[], metavar="id=ID,src=PATH")
    p.add_argument("--cache-from", action="append", default=[], metavar="REF")
    p.add_argument("--cache-to", action="append", default=[], metavar="REF")
    p.add_argument("--output", "-o", action="append", default=[], metavar="type=TYPE,...")
    p.add_argument("--push", action="store_true", help="push the tags after building")
    p.add_argument("--insecure-registry", action="append", default=[], metavar="HOST[:PORT]")
    p.add_argument(
        "--add-host", action="append", default=[], metavar="HOST:IP", help="a line of /etc/hosts"
    )
    p.add_argument("--shm-size", metavar="SIZE", help="size of /dev/shm for RUN (default 64m)")
    p.add_argument(
        "--ulimit",
        action="append",
        default=[],
        metavar="TYPE=SOFT[:HARD]",
        help="a resource limit for RUN (e.g. nofile=1024:2048)",
    )
    p.add_argument(
        "--no-cache-filter",
        action="append",
        default=[],
        metavar="STAGE",
        help="build these stages without the cache (repeatable or comma-separated)",
    )
    p.add_argument("--metadata-file", metavar="FILE", help="write the build result's metadata")
    p.add_argument(
        "--call",
        default="build",
        choices=("build", "outline", "targets", "check"),
        help="build, or print the target's build args and secrets (outline) or the stages "
        "(targets); JSON with --progress json",
    )
    p.add_argument(
        "--annotation",
        action="append",
        default=[],
        metavar="[manifest:]KEY=VALUE",
        help="an annotation of the image's manifest",
    )


def parse_kv_list(text: str, what: str) -> dict[str, str]:
    """`a=b,c=d` -> dict; a bare word is an error."""
    out: dict[str, str] = {}
    for part in filter(None, (x.strip() for x in text.split(","))):
        k, sep, v = part.partition("=")
        if not sep:
            raise UsageError(f"invalid {what} {text!r}: {part!r} is not KEY=VALUE")
        out[k.strip().lower()] = v.strip()
    return out


def parse_build_args(items: list[str], environ: dict[str, str]) -> dict[str, str]:
    out: dict[str, str] = {}
    for item in items:
        k, sep, v = item.partition("=")
        if not k:
            raise UsageError(f"invalid --build-arg {item!r}")
        if sep:
            out[k] = v
        elif k in environ:
            out[k] = environ[k]
        # a bare K not in the environment is ignored, as docker does
    return out


def parse_add_host(text: str) -> tuple[str, str]:
    """docker's `HOST:IP` (or `HOST=IP`): the IP is checked, IPv6 included."""
    host, sep, ip = text.partition("=") if "=" in text else text.partition(":")
    try:
        ok = bool(host and sep) and ipaddress.ip_address(ip.strip("[]")) is not None
    except ValueError:
        ok = False
    if not ok:
        raise UsageError(f"invalid --add-host {text!r}: want HOST:IP (an IPv4 or IPv6 address)")
    return host, ip.strip("[]")


def parse_ulimits(items: list[str]) -> tuple[tuple[str, int, int], ...]:
    out: dict[str, tuple[str, int, int]] = {}
    for text in items:
        try:
            limit = parse_ulimit(text)
        except ValueError as e:
            raise UsageError(f"invalid --ulimit {text!r}: {e}") from None
        out[limit[0]] = limit  # the last one for a name wins, as docker's
    return tuple(out.values())


def _metadata_file(text: str | None) -> Path | None:
    if text is None:
        return None
    path = Path(text)
    if not path.parent.is_dir():  # as buildx: the directory must exist
        raise UsageError(f"--metadata-file {text}: directory {path.parent} does not exist")
    return path


def parse_annotations(items: list[str]) -> dict[str, str]:
    """buildx's `[TYPE[PLATFORM]:]KEY=VALUE`; a single-platform image has only its
    manifest to carry them (`manifest:`, the default)."""
    out: dict[str, str] = {}
    for text in items:
        kv = text
        head, colon, rest = text.partition(":")
        if colon and "=" not in head:
            kind = head.partition("[")[0]
            if kind in ("index", "index-descriptor", "manifest-descriptor"):
                raise UsageError(
                    f"--annotation {text!r}: {kind} annotations need an image index "
                    "(a multi-platform build); this image has a manifest only"
                )
            if kind != "manifest":
                raise UsageError(f"--annotation {text!r}: unknown type {head!r}")
            kv = rest
        key, eq, value = kv.partition("=")
        if not key or not eq:
            raise UsageError(f"--annotation {text!r}: want [manifest:]KEY=VALUE")
        out[key] = value
    return out


def parse_labels(items: list[str]) -> dict[str, str]:
    out: dict[str, str] = {}
    for item in items:
        k, _, v = item.partition("=")
        if not k:
            raise UsageError(f"invalid --label {item!r}")
        out[k] = v
    return out


def parse_secret(text: str) -> tuple[str, dict[str, str]]:
    """`id=ID,src=PATH` (or source=, env=VAR); returns (id, {"src"| "env": value})."""
    kv = parse_kv_list(text, "--secret")
    sid = kv.get("id")
    if not sid:
        raise UsageError(f"invalid --secret {text!r}: id= is required")
    typ = kv.get("type", "env" if "env" in kv and "src" not in kv else "file")
    src = kv.get("src") or kv.get("source")
    if typ == "env":
        name = kv.get("env") or src or sid
        if name not in os.environ:
            raise UsageError(f"--secret {sid}: environment variable {name} is not set")
        return sid, {"env": name}
    if typ != "file":
        raise UsageError(f"invalid --secret {text!r}: type must be file or env")
    path = src or sid
    if not os.path.isfile(path):
        raise UsageError(f"--secret {sid}: {path} is not a file")
    return sid, {"src": os.path.abspath(path)}


_COMPRESSIONS = ("gzip", "zstd", "uncompressed")


def parse_output(text: str) -> dict[str, str]:
    if "=" not in text:  # docker's shorthand: a directory, or '-' for a tar on stdout
        if not text:
            raise UsageError("invalid --output '': want type=TYPE[,dest=PATH], DIR or -")
        return {"type": "tar" if text == "-" else "local", "dest": text}
    kv = parse_kv_list(text, "--output")
    typ = kv.get("type", "")
    if typ not in ("oci", "docker", "registry", "image", "local", "tar"):
        raise UsageError(
            f"--output type={typ}: supported types are oci, docker, registry, local, tar"
        )
    if typ in ("oci", "docker", "local", "tar") and not kv.get("dest"):
        raise UsageError(f"--output type={typ} needs dest={'DIR' if typ == 'local' else 'FILE'}")
    return kv


def options_from_args(args, stdin=None, environ=None):
    from builder.engine.options import BuildOptions

    environ = dict(os.environ if environ is None else environ)
    ctx = Path(args.context)
    if str(args.context) != "-" and not ctx.is_dir():
        raise UsageError(f"unable to prepare context: path {args.context!r} not found")
    df_path = None
    if args.file == "-":
        text = (stdin or sys.stdin).read()
        df_name = "Dockerfile"
    else:
        df = Path(args.file) if args.file else ctx / "Dockerfile"
        if not df.is_file():
            raise UsageError(f"failed to read dockerfile: open {df}: no such file or directory")
        text = df.read_text()
        df_name = df.name
        df_path = df.resolve()
    outputs = [parse_output(o) for o in args.output]
    # type=registry pushes unless push=false; type=image only with push=true (BuildKit's)
    push = args.push or any(
        (o["type"] == "registry" and o.get("push", "true") != "false")
        or (o["type"] == "image" and o.get("push", "false") == "true")
        for o in outputs
    )
    # an image exporter's name= names the image, as -t does
    named = [o["name"] for o in outputs if o["type"] in ("image", "registry") and o.get("name")]
    if push and not args.tag and not any(o.get("name") for o in outputs):
        raise UsageError("--push needs at least one -t NAME")
    quiet = args.quiet or args.progress == "quiet"
    insecure = list(args.insecure_registry)
    insecure += [h for h in environ.get("PYBUILD_INSECURE_REGISTRIES", "").split(",") if h]
    epoch = environ.get("SOURCE_DATE_EPOCH")
    if epoch is not None and not epoch.strip().isdigit():
        raise UsageError(f"invalid SOURCE_DATE_EPOCH {epoch!r}: want seconds since 1970")
    comp = environ.get("PYBUILD_LAYER_COMPRESSION", "gzip").lower()
    if comp not in ("gzip", "zstd", "none"):
        raise UsageError(f"PYBUILD_LAYER_COMPRESSION={comp}: want gzip, zstd or none")
    # an exporter's compression= is the new layers'; force-compression=true makes every
    # layer of the result so (BuildKit's image, registry, oci and docker exporters)
    force = False
    for o in outputs:
        if "compression" in o:
            if o["compression"] not in _COMPRESSIONS:
                raise UsageError(
                    f"--output compression={o['compression']}: want gzip, zstd or uncompressed"
                )
            comp = o["compression"]
        force = force or o.get("force-compression") == "true"
    platform = None
    if args.platform:
        try:
            platform = str(Platform.parse(args.platform))  # as BuildKit normalises it
        except ValueError as e:
            raise UsageError(f"--platform: {e}") from None
    if args.cpus is not None and args.cpus <= 0:
        raise UsageError("--cpus must be positive")
    if args.pids_limit is not None and args.pids_limit == 0:
        raise UsageError("--pids-limit must not be 0")
    return BuildOptions(
        context=ctx.resolve(),
        dockerfile_text=text,
        dockerfile_name=df_name,
        tags=list(dict.fromkeys([*args.tag, *named])),
        build_args=parse_build_args(args.build_arg, environ),
        target=args.target,
        no_cache=args.no_cache,
        pull=args.pull,
        platform=platform,
        labels=parse_labels(args.label),
        progress="quiet" if quiet else args.progress,
        network=args.network,
        memory=parse_size(args.memory) if args.memory else None,
        cpus=args.cpus,
        pids_limit=args.pids_limit,
        secrets=dict(parse_secret(s) for s in args.secret),
        cache_from=list(args.cache_from),
        cache_to=list(args.cache_to),
        outputs=outputs,
        push=push,
        insecure_registries=insecure,
        source_date_epoch=int(epoch) if epoch else None,
        dockerfile_path=df_path,
        compression=None if comp in ("none", "uncompressed") else comp,
        force_compression=force,
        extra_hosts=tuple(parse_add_host(h) for h in args.add_host),
        shm_size=parse_size(args.shm_size) if args.shm_size else None,
        ulimits=parse_ulimits(args.ulimit),
        no_cache_filter=frozenset(  # stage names are case-insensitive
            s.strip().lower() for item in args.no_cache_filter for s in item.split(",") if s.strip()
        ),
        metadata_file=_metadata_file(args.metadata_file),
        annotations=parse_annotations(args.annotation),
    )


def _call(method: str, opts, o) -> int:
    """`--call outline|targets`: BuildKit's subrequests (`o`, builder.frontend.outline),
    printed; nothing is built."""
    if method == "check":
        raise UsageError("--call check: the build checks are not implemented yet")
    text, name, as_json = opts.dockerfile_text, opts.dockerfile_name, opts.progress == "json"
    if method == "targets":
        ts = o.targets(text, name)
        print(o.targets_json(ts, text) if as_json else o.print_targets(ts), end="")
    else:
        ol = o.outline(text, name, build_args=opts.build_args, target=opts.target)
        print(o.outline_json(ol, text) if as_json else o.print_outline(ol), end="")
    return 0


def run(args) -> int:
    from builder.engine import build
    from builder.engine.failure import StepError

    opts = options_from_args(args)
    if args.call != "build":
        from builder.frontend import outline  # the parser and the planner: --call only

        return _call(args.call, opts, outline)
    try:
        result = build(opts)
    except StepError as e:
        if e.tail:  # the last lines of the step's output, above the one-line error
            print(e.report(), file=sys.stderr)
        raise
    image_id = str(result.image_id)
    if args.iidfile:
        Path(args.iidfile).write_text(image_id)
    if opts.metadata_file is not None:
        from builder.engine.outputs import build_metadata  # loads the registry client

        opts.metadata_file.write_text(json.dumps(build_metadata(result), indent=2) + "\n")
    tar_on_stdout = any(o.get("dest") == "-" for o in opts.outputs)
    if opts.progress == "quiet" and not tar_on_stdout:
        print(image_id)
    return 0
