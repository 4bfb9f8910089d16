"""Output formats: --json against the documented schema, the terminal view, CI mode
(thresholds from flags and .pybuild-ci.yaml, dive-style report, exit codes), and the
history command."""

from __future__ import annotations

import json
from pathlib import Path

import jsonschema
import pytest

from builder.cli import main
from builder.inspect.ci import parse_config, parse_size
from builder.inspect.errors import CiConfigError
from tests.unit.inspect.synth import layer_tar, store_image

SCHEMA = json.loads(
    (Path(__file__).resolve().parents[3] / "builder" / "inspect" / "schema.json").read_text()
)


@pytest.fixture
def image(store_root: Path) -> str:
    tars = [
        layer_tar([("dir", "bin"), ("file", "bin/sh", 4000), ("file", "etc/passwd", 100)]),
        layer_tar([("file", "tmp/junk.bin", 60000), ("file", "app/main", 3000)]),
        layer_tar([("del", "tmp/junk.bin"), ("file", "root/.cache/pip/w.whl", 7000)]),
    ]
    hist = [
        {"created": "2024-01-01T00:00:00Z", "created_by": "ADD rootfs.tar / # buildkit"},
        {"created_by": "ENV A=1", "empty_layer": True, "comment": "pybuild:line=2"},
        {
            "created": "2024-01-02T00:00:00Z",
            "created_by": "RUN /bin/sh -c make # buildkit",
            "comment": "pybuild:line=3",
        },
        {
            "created_by": "RUN /bin/sh -c rm /tmp/junk.bin && pip install w # buildkit",
            "comment": "pybuild:line=4-5",
        },
    ]
    store_image(store_root, "demo:1", tars, hist)
    return "demo:1"


def _run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    capsys.readouterr()
    rc = main(list(argv))
    o = capsys.readouterr()
    return rc, o.out, o.err


def test_json_validates_and_has_the_issue_fields(image: str, capsys) -> None:
    rc, out, _ = _run(capsys, "inspect", image, "--json")
    assert rc == 0
    doc = json.loads(out)
    jsonschema.validate(doc, SCHEMA)
    assert [x["line"] for x in doc["layers"]] == [None, 3, 4]
    assert doc["layers"][2]["end_line"] == 5
    assert doc["wasted_bytes"] == doc["reclaimable_bytes"] == 60000  # dive's, pybuild's
    assert doc["inefficient_files"][0] == {"path": "/tmp/junk.bin", "count": 2, "size": 60000}
    assert {p["id"] for p in doc["pitfalls"]} == {"deleted-later", "package-cache"}
    assert doc["reclaimable_paths"][0] == {
        "path": "/tmp/junk.bin",
        "reclaimable_bytes": 60000,
        "versions": 1,
        "layers": [1, 2],
        "deleted": True,
    }


def test_terminal_view(image: str, capsys) -> None:
    rc, out, _ = _run(capsys, "inspect", image)
    assert rc == 0
    assert "3 layers" in out and "█" in out
    assert "[deleted-later]" in out and "lines 3, 4" in out and "60.0 kB" in out
    assert "before │" in out and "after  │" in out
    # pybuild's figure and dive's, each under its own name
    flat = " ".join(out.split())  # the line wraps at the console's width
    assert "60.0 kB a rewrite would not store" in flat and "dive: 60.0 kB wasted" in flat


def test_ci_flags(image: str, capsys) -> None:
    rc, out, _ = _run(
        capsys,
        "inspect",
        image,
        "--ci",
        "--lowest-efficiency",
        "0.1",
        "--highest-user-wasted-percent",
        "disabled",
    )
    assert rc == 0, out
    assert "PASS: lowest-efficiency" in out and "Result:PASS" in out
    rc, out, _ = _run(
        capsys,
        "inspect",
        image,
        "--ci",
        "--highest-wasted-bytes",
        "50kB",
        "--lowest-efficiency",
        "disabled",
        "--highest-user-wasted-percent",
        "disabled",
    )
    assert rc == 1
    assert (
        "FAIL: highest-wasted-bytes: too many bytes wasted (wasted-bytes=60000 > "
        "threshold=50000)" in out
    )
    assert "Result:FAIL [Total:3] [Passed:0] [Failed:1] [Warn:0] [Skipped:2]" in out


def test_ci_config_file(image: str, capsys, tmp_path: Path, monkeypatch) -> None:
    monkeypatch.chdir(tmp_path)
    (tmp_path / ".pybuild-ci.yaml").write_text(
        "# thresholds\nrules:\n  lowestEfficiency: 0.99   # dive's name\n"
        '  highest-wasted-bytes: 1MB\n  highest_user_wasted_percent: "disabled"\n'
    )
    rc, out, _ = _run(capsys, "inspect", image, "--ci")
    assert rc == 1 and "FAIL: lowest-efficiency: image efficiency is too low" in out
    assert "PASS: highest-wasted-bytes" in out and "SKIP: highest-user-wasted-percent" in out
    # flags override the file
    rc, out, _ = _run(capsys, "inspect", image, "--ci", "--lowest-efficiency", "5%")
    assert rc == 0, out


def test_ci_config_errors_are_one_line_usage_errors(image: str, capsys, tmp_path: Path) -> None:
    bad = tmp_path / "ci.yaml"
    bad.write_text("rules:\n  lowest-efficency: 0.9\n")
    rc, _, err = _run(capsys, "inspect", image, "--ci", "--ci-config", str(bad))
    assert rc == 2 and "unknown rule 'lowest-efficency'" in err and err.count("\n") == 1
    with pytest.raises(CiConfigError):
        parse_config("just text")
    assert parse_size("1.5GiB") == int(1.5 * 1024**3) and parse_size("20MB") == 20_000_000


def test_history_like_docker(image: str, capsys) -> None:
    rc, out, _ = _run(capsys, "history", image)
    assert rc == 0
    lines = out.splitlines()
    assert lines[0].split() == ["IMAGE", "CREATED", "CREATED", "BY", "SIZE", "COMMENT", "LINE"]
    assert len(lines) == 5  # newest first, one row per history entry
    assert lines[1].split()[0] != "<missing>" and lines[2].startswith("<missing>")
    assert "7kB" in lines[1] and "63kB" in lines[2] and lines[4].split()[-1] == "4.1kB"
    rc, out, _ = _run(capsys, "history", image, "--json")
    rows = json.loads(out)
    assert [r["size"] for r in rows] == [7000, 63000, 0, 4100]
    assert [r["line"] for r in rows] == [4, 3, 2, None]


def test_missing_image_is_one_line(store_root: Path, image: str, capsys) -> None:
    rc, _, err = _run(capsys, "inspect", "nope:1")
    assert rc == 1 and "nope:1" in err and "not found" in err and err.count("\n") == 1


def test_history_without_history_entries(tmp_path: Path, capsys) -> None:
    from tests.unit.inspect.synth import docker_archive

    arc = docker_archive(
        tmp_path / "d.tar", [layer_tar([("file", "a", 1500)]), layer_tar([("file", "b", 20)])], []
    )
    rc, out, _ = _run(capsys, "history", f"docker-archive:{arc}", "--json")
    assert rc == 0
    assert [(r["id"] != "<missing>", r["size"]) for r in json.loads(out)] == [
        (True, 20),
        (False, 1500),
    ]


def test_unmarked_image_without_dockerfile_still_reports_costs(store_root: Path, capsys) -> None:
    """A BuildKit image (no pybuild markers, no -f): findings come from created_by and
    the files; lines are unknown and left empty."""
    tars = [
        layer_tar([("file", "bin/sh", 100)]),
        layer_tar([("file", "var/lib/apt/lists/x_Packages", 4000)]),
        layer_tar([("file", "usr/bin/curl", 300)]),
    ]
    hist = [
        {"created_by": "/bin/sh -c #(nop) ADD file:x in / "},
        {"created_by": "RUN /bin/sh -c apt-get update # buildkit"},
        {"created_by": "RUN /bin/sh -c apt-get install -y curl # buildkit"},
    ]
    store_image(store_root, "bk:1", tars, hist)
    rc, out, _ = _run(capsys, "inspect", "bk:1", "--json")
    doc = json.loads(out)
    assert rc == 0 and doc["line_source"] == "none"
    assert [(p["id"], p["lines"], p["bytes"], p["layers"]) for p in doc["pitfalls"]] == [
        ("apt-lists", [], 4000, [1])
    ]


def test_inspect_context_flag(store_root: Path, tmp_path: Path, capsys) -> None:
    ctx = tmp_path / "ctx"
    (ctx / ".git").mkdir(parents=True)
    (ctx / ".git" / "index").write_bytes(bytes(3000))
    (ctx / "main.sh").write_text("echo hi\n")
    df = tmp_path / "Dockerfile"
    df.write_text("FROM busybox\nCOPY . /src\n")
    store_image(
        store_root,
        "ctx:1",
        [layer_tar([("file", "bin/sh", 10)]), layer_tar([("file", "src/main.sh", 8)])],
        [
            {"created_by": "base"},
            {"created_by": "COPY . /src # buildkit", "comment": "pybuild:line=2"},
        ],
    )
    rc, out, _ = _run(capsys, "inspect", "ctx:1", "--json", "-f", str(df), "--context", str(ctx))
    assert rc == 0
    assert [(p["id"], p["lines"], p["bytes"]) for p in json.loads(out)["pitfalls"]] == [
        ("no-dockerignore", [2], 3000)
    ]
