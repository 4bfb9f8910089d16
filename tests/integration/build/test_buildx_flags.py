"""`docker buildx build` flags that shape the RUN sandbox or the build's bookkeeping, end
to end through the real CLI: --add-host, --shm-size, --ulimit (each in the step, and
in the cache key only when given), --no-cache-filter and --metadata-file."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from store.image import resolve_image
from store.layout import open_store
from tests.fixtures.common import run_pybuild

pytestmark = pytest.mark.root


def _build(store: Path, ctx: Path, dockerfile: str, *flags: str):  # type: ignore[no-untyped-def]
    ctx.mkdir(exist_ok=True)
    (ctx / "Dockerfile").write_text(dockerfile)
    return run_pybuild(store, "build", "--progress", "plain", "--network", "none", *flags, str(ctx))


def _step_output(out: str) -> list[str]:
    return [m.group(1) for m in re.finditer(r"^#\d+ [\d.]+ (.*)$", out, re.M)]


def test_add_host_shm_size_and_ulimit_reach_the_step(build_store: Path, tmp_path: Path) -> None:
    df = (
        "FROM busybox\nRUN grep -E 'db|cache6' /etc/hosts; df -k /dev/shm | tail -1 | "
        "awk '{print \"shm\", $2}'; echo nofile $(ulimit -Sn) $(ulimit -Hn)\n"
    )
    flags = ("--add-host", "db:10.1.2.3", "--add-host", "cache6=fd00::1")
    flags += ("--shm-size", "128m", "--ulimit", "nofile=1024:2048")
    out = _build(build_store, tmp_path / "c", df, *flags)
    assert out.returncode == 0, out.stderr
    lines = _step_output(out.stderr)
    assert "10.1.2.3\tdb" in lines and "fd00::1\tcache6" in lines, lines
    assert "shm 131072" in lines and "nofile 1024 2048" in lines, lines
    # the same flags hit the cache; another value is another key, as BuildKit's exec op
    again = _build(build_store, tmp_path / "c", df, *flags)
    assert "0 re-ran" in again.stderr, again.stderr
    other = _build(build_store, tmp_path / "c", df, *flags[:-1], "nofile=512:2048")
    assert "1 re-ran" in other.stderr and "nofile 512 2048" in _step_output(other.stderr)


def test_no_flag_keeps_the_keys_of_before(build_store: Path, tmp_path: Path) -> None:
    df = "FROM busybox\nRUN echo same\n"
    assert _build(build_store, tmp_path / "c", df).returncode == 0
    out = _build(build_store, tmp_path / "c", df, "--shm-size", "64m")
    assert "1 re-ran" in out.stderr  # given, it is in the key, as BuildKit's
    out = _build(build_store, tmp_path / "c", df)
    assert "0 re-ran" in out.stderr


@pytest.mark.parametrize(
    "flag,value,message",
    [
        ("--add-host", "db", "invalid --add-host 'db': want HOST:IP"),
        ("--add-host", "db:10.1.2", "invalid --add-host 'db:10.1.2': want HOST:IP"),
        ("--ulimit", "nofiles=1", "invalid --ulimit 'nofiles=1': invalid ulimit type: nofiles"),
        (
            "--ulimit",
            "nofile=10:5",
            "invalid --ulimit 'nofile=10:5': ulimit soft limit must be less than or equal to "
            "hard limit: 10 > 5",
        ),
        ("--shm-size", "lots", "invalid size: 'lots'"),
    ],
)
def test_bad_values_are_one_line_usage_errors(
    build_store: Path, tmp_path: Path, flag: str, value: str, message: str
) -> None:
    out = _build(build_store, tmp_path / "c", "FROM busybox\n", flag, value)
    assert out.returncode == 2 and len(out.stderr.strip().splitlines()) == 1
    assert message in out.stderr


def test_no_cache_filter_rebuilds_only_the_stages_named(build_store: Path, tmp_path: Path) -> None:
    df = (
        "FROM busybox AS Deps\nRUN echo deps > /d\n"
        "FROM busybox AS tools\nRUN echo tools > /t\n"
        "FROM busybox\nCOPY --from=deps /d /d\nCOPY --from=tools /t /t\n"
    )
    assert _build(build_store, tmp_path / "c", df).returncode == 0
    out = _build(build_store, tmp_path / "c", df, "--no-cache-filter", "deps")
    assert out.returncode == 0, out.stderr
    assert "re-ran: --no-cache-filter deps" in out.stderr
    assert "1 re-ran" in out.stderr  # tools and the final stage come from the cache
    out = _build(build_store, tmp_path / "c", df, "--no-cache-filter", "deps,TOOLS")
    assert "2 re-ran" in out.stderr


def test_metadata_file_has_buildkit_s_keys(build_store: Path, tmp_path: Path) -> None:
    meta = tmp_path / "meta.json"
    df = "FROM busybox\nRUN echo hi > /hi\n"
    flags = ("-t", "app:1", "-t", "127.0.0.1:5000/team/app:2", "--metadata-file", str(meta))
    out = _build(build_store, tmp_path / "c", df, *flags)
    assert out.returncode == 0, out.stderr
    doc = json.loads(meta.read_text())
    img = resolve_image(open_store(build_store), "app:1")
    assert doc["containerimage.digest"] == str(img.digest)
    assert doc["containerimage.config.digest"] == str(img.id)
    desc = doc["containerimage.descriptor"]
    assert (desc["digest"], desc["size"]) == (str(img.digest), img.descriptor.size)
    assert doc["image.name"] == "docker.io/library/app:1,127.0.0.1:5000/team/app:2"
    assert re.fullmatch(r"pybuild/local/[0-9a-z]{25}", doc["buildx.build.ref"])
    missing = _build(build_store, tmp_path / "c", df, "--metadata-file", "/nonexistent/m.json")
    assert missing.returncode == 2 and "/nonexistent does not exist" in missing.stderr


def _layer_types(store: Path, name: str) -> list[str]:
    return [d.media_type for d in resolve_image(open_store(store), name).manifest().layers]


def test_output_compression_and_force_compression(build_store: Path, tmp_path: Path) -> None:
    df = "FROM busybox\nRUN echo one > /one\n"
    base = _layer_types(build_store, "busybox:latest")[0]
    out = _build(build_store, tmp_path / "c", df, "-o", "type=image,name=z:1,compression=zstd")
    assert out.returncode == 0, out.stderr
    # the new layer in zstd, the base's as it is (BuildKit: only layers it makes)
    assert _layer_types(build_store, "z:1") == [base, "application/vnd.oci.image.layer.v1.tar+zstd"]
    forced = "type=image,name=z:2,compression=zstd,force-compression=true"
    out = _build(build_store, tmp_path / "c", df, "-o", forced)
    assert out.returncode == 0, out.stderr
    assert _layer_types(build_store, "z:2") == ["application/vnd.oci.image.layer.v1.tar+zstd"] * 2
    ran = run_pybuild(build_store, "run", "--network", "none", "z:2", "cat", "/one")
    assert ran.stdout == "one\n", ran.stderr
    bad = _build(build_store, tmp_path / "c", df, "-o", "type=image,name=z:3,compression=lz4")
    assert bad.returncode == 2 and "want gzip, zstd or uncompressed" in bad.stderr


def test_annotations_and_a_forced_zstd_push_as_skopeo_reads_them(
    build_store: Path, tmp_path: Path, registry
) -> None:  # type: ignore[no-untyped-def]
    import subprocess

    ref = f"{registry.host}/flags/ann:1"
    df = "FROM busybox\nRUN echo ann > /ann\n"
    out = _build(
        build_store,
        tmp_path / "c",
        df,
        "--annotation",
        "org.example.plain=1",
        "--annotation",
        "manifest:org.example.typed=2",
        "-o",
        f"type=registry,name={ref},compression=zstd,force-compression=true",
    )
    assert out.returncode == 0, out.stderr
    raw = subprocess.run(
        ["skopeo", "inspect", "--raw", "--tls-verify=false", f"docker://{ref}"],
        capture_output=True,
        text=True,
        check=True,
    )
    m = json.loads(raw.stdout)
    assert m["annotations"] == {"org.example.plain": "1", "org.example.typed": "2"}
    assert {x["mediaType"] for x in m["layers"]} == {"application/vnd.oci.image.layer.v1.tar+zstd"}
    fresh = tmp_path / "fresh"
    assert run_pybuild(fresh, "pull", ref).returncode == 0
    ran = run_pybuild(fresh, "run", "--network", "none", ref, "cat", "/ann")
    assert ran.stdout == "ann\n", ran.stderr
    index = _build(build_store, tmp_path / "c", df, "--annotation", "index:org.example.x=1")
    assert index.returncode == 2 and "need an image index" in index.stderr


def test_call_outline_and_targets_print_and_build_nothing(
    build_store: Path, tmp_path: Path
) -> None:
    df = (
        "# base prepares\nFROM busybox AS base\n# V the version\nARG V=1\n"
        "RUN --mount=type=secret,id=tok,required true\n"
        "FROM base\nRUN echo $V\n"
    )
    before = run_pybuild(build_store, "images").stdout
    out = _build(build_store, tmp_path / "c", df, "--call", "outline", "--build-arg", "V=2")
    assert out.returncode == 0, out.stderr
    assert out.stdout == (  # an unnamed target without a description has no TARGET line
        "BUILD ARG   VALUE   DESCRIPTION\nV           2       the version\n\n"
        "SECRET   REQUIRED\ntok      true\n\n"
    )
    out = _build(build_store, tmp_path / "c", df, "--call", "targets")
    assert out.stdout == "TARGET    DESCRIPTION\nbase      prepares\n(default) \n"
    out = _build(build_store, tmp_path / "c", df, "--call", "targets", "--progress", "json")
    assert [t.get("name", "") for t in json.loads(out.stdout)["targets"]] == ["base", ""]
    assert run_pybuild(build_store, "images").stdout == before  # nothing was built
    out = _build(build_store, tmp_path / "c", df, "--call", "check")
    assert out.returncode == 2 and "not implemented" in out.stderr
