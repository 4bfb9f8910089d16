"""`pybuild build` flag parsing: every docker-build flag into BuildOptions."""

from __future__ import annotations

import io

import pytest

from builder.cli import ArgumentParser, CliUsageError
from builder.commands import build as cmd
from builder.errors import UsageError


def _opts(tmp_path, *argv, stdin=None, environ=None):
    (tmp_path / "Dockerfile").write_text("FROM scratch\n")
    p = ArgumentParser(prog="pybuild build")
    cmd.add_arguments(p)
    ns = p.parse_args([*argv, str(tmp_path)])
    return cmd.options_from_args(ns, stdin=stdin, environ=environ or {})


def test_all_flags(tmp_path):
    secret = tmp_path / "s.txt"
    secret.write_text("pw")
    o = _opts(
        tmp_path,
        "-t",
        "a:1",
        "-t",
        "b",
        "--build-arg",
        "A=1",
        "--build-arg",
        "HOME",
        "--build-arg",
        "MISSING",
        "--target",
        "t",
        "--no-cache",
        "--pull",
        "--platform",
        "linux/amd64",
        "--label",
        "k=v",
        "--progress",
        "json",
        "--network",
        "none",
        "--memory",
        "512m",
        "--cpus",
        "1.5",
        "--pids-limit",
        "100",
        "--secret",
        f"id=pw,src={secret}",
        "--cache-from",
        "r/c",
        "--cache-to",
        "r/c",
        "--output",
        f"type=oci,dest={tmp_path}/o.tar",
        "--insecure-registry",
        "h:5000",
        environ={"HOME": "/root", "SOURCE_DATE_EPOCH": "10"},
    )
    assert o.tags == ["a:1", "b"] and o.build_args == {"A": "1", "HOME": "/root"}
    assert (o.target, o.no_cache, o.pull, o.platform) == ("t", True, True, "linux/amd64")
    assert o.labels == {"k": "v"} and o.progress == "json" and o.network == "none"
    assert (o.memory, o.cpus, o.pids_limit) == (512 << 20, 1.5, 100)
    assert o.secrets == {"pw": {"src": str(secret)}}
    assert o.outputs == [{"type": "oci", "dest": f"{tmp_path}/o.tar"}]
    assert o.insecure_registries == ["h:5000"] and o.source_date_epoch == 10
    assert o.dockerfile_text == "FROM scratch\n"


def test_quiet_and_stdin_dockerfile(tmp_path):
    o = _opts(tmp_path, "-q", "-f", "-", stdin=io.StringIO("FROM busybox\n"))
    assert o.progress == "quiet" and o.dockerfile_text == "FROM busybox\n"


@pytest.mark.parametrize(
    "argv",
    [
        ["--output", "type=local"],
        ["--output", "type=oci"],
        ["--output", "type=cacheonly,dest=x"],
        ["--output", ""],
        ["--secret", "src=/nope"],
        ["--push"],
        ["--memory", "lots"],
        ["-f", "/no/such/Dockerfile"],
    ],
)
def test_usage_errors(tmp_path, argv):
    with pytest.raises(UsageError):
        _opts(tmp_path, *argv)


@pytest.mark.parametrize(
    "text,want",
    [
        ("type=local,dest=out", {"type": "local", "dest": "out"}),
        ("out", {"type": "local", "dest": "out"}),
        ("-", {"type": "tar", "dest": "-"}),
        ("type=tar,dest=-", {"type": "tar", "dest": "-"}),
    ],
)
def test_output_forms(tmp_path, text, want):
    assert _opts(tmp_path, "--output", text).outputs == [want]


def test_bad_progress_is_usage_error(tmp_path):
    with pytest.raises(CliUsageError):
        _opts(tmp_path, "--progress", "fancy")


@pytest.mark.parametrize(
    "text,want", [("1024", 1024), ("1k", 1024), ("1.5g", 3 << 29), ("64MB", 64 << 20)]
)
def test_sizes(text, want):
    assert cmd.parse_size(text) == want


def test_image_and_registry_outputs_push_as_buildkit_s_exporters_do(tmp_path):
    o = _opts(tmp_path, "-o", "type=image,name=reg.example/app:1")
    assert (o.push, o.tags) == (False, ["reg.example/app:1"])
    o = _opts(tmp_path, "-o", "type=image,name=reg.example/app:1,push=true")
    assert o.push is True
    o = _opts(tmp_path, "-t", "a:1", "-o", "type=registry,name=reg.example/app:1")
    assert (o.push, o.tags) == (True, ["a:1", "reg.example/app:1"])
    o = _opts(tmp_path, "-t", "a:1", "-o", "type=registry,push=false")
    assert o.push is False
