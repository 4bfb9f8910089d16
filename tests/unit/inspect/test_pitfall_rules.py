"""Edges of the pitfall rules: near misses that must not fire, and the rule details
(opaque dirs, base-image files, secrets by content, ARG use forms)."""

from __future__ import annotations

import io

from builder.inspect.analyze import LayerInput, analyze
from builder.inspect.dockerfile import parse_dockerfile
from builder.inspect.history import marker_comment
from tests.unit.inspect.synth import layer_tar

BASE = [
    ("dir", "usr"),
    ("dir", "usr/bin"),
    ("file", "usr/bin/make", 5000),
    ("file", "etc/passwd", 50),
]


def _run(dockerfile: str, layers: dict[int, list[tuple]]) -> list[tuple]:
    df = parse_dockerfile(dockerfile)
    tars = [layer_tar(BASE)]
    hist = [{"created_by": "ADD rootfs / # buildkit"}]
    for s in df.stage_steps(df.final_stage):
        if s.keyword == "FROM":
            continue
        h = {"created_by": f"{s.keyword} {s.args}", "comment": marker_comment(s.line, s.end_line)}
        if s.makes_layer:
            tars.append(layer_tar(layers.get(s.line, [])))
        else:
            h["empty_layer"] = True
        hist.append(h)
    inputs = [
        LayerInput(f"sha256:{i:064x}", len(t), lambda t=t: io.BytesIO(t))
        for i, t in enumerate(tars)
    ]
    a = analyze({"history": hist}, inputs, df)
    return [(f.id, f.lines, f.bytes, f.steps) for f in a.pitfalls]


def test_near_misses_do_not_fire() -> None:
    text = (
        "FROM busybox\n"
        "ARG V=1\n"
        "RUN echo ${V} > /v\n"  # uses the ARG at once
        "COPY requirements.txt /app/\n"
        "RUN pip install --no-cache-dir -r /app/requirements.txt\n"
        "RUN apt-get update && apt-get install -y x && rm -rf /var/lib/apt/lists/*\n"
        "COPY . /app\n"
        "ENV KEYBOARD=us PATH=/usr/local/bin:/bin\n"
        "ADD local.tar.gz /opt/\n"
        "RUN chmod +x /app/run.sh && /app/build.sh\n"
    )
    layers = {
        3: [("file", "v", 2)],
        5: [("file", "usr/lib/foo.so", 1000)],
        7: [("file", "app/run.sh", 10)],
        6: [("file", "usr/bin/x", 10)],
        9: [("file", "opt/tool", 10)],
        10: [("file", "app/out", 10)],
    }
    assert _run(text, layers) == []


def test_base_image_tools_and_files_are_not_the_users_fault() -> None:
    # make comes with the base image; deleting a base file is still reported
    got = _run("FROM busybox\nRUN rm /etc/passwd\n", {2: [("del", "etc/passwd")]})
    assert got == [("deleted-later", (2,), 50, 0)]


def test_opaque_dir_deletes_lower_files_only() -> None:
    text = (
        "FROM busybox\nRUN mkdir -p /cache && head -c 900 /dev/zero > /cache/x\n"
        "RUN rm -rf /cache && mkdir /cache && echo 1 > /cache/y\n"
    )
    got = _run(
        text,
        {
            2: [("dir", "cache"), ("file", "cache/x", 900)],
            3: [("dir", "cache"), ("opaque", "cache"), ("file", "cache/y", 2)],
        },
    )
    assert got == [("deleted-later", (2, 3), 900, 0)]


def test_key_found_by_content_and_secret_values() -> None:
    key = b"-----BEGIN RSA PRIVATE KEY-----\nMIIB\n-----END RSA PRIVATE KEY-----\n"
    text = "FROM busybox\nENV GH=ghp_abcdefghijklmnopqrstuvwxyz0123456789\nCOPY k /srv/deploy.txt\n"
    got = _run(text, {3: [("file", "srv/deploy.txt", key)]})
    assert got == [("secret-arg-env", (2,), 0, 0), ("secret-file", (3,), len(key), 0)]


def test_early_arg_counts_steps_until_first_use() -> None:
    text = (
        "FROM busybox\nARG REV\nCOPY a /a\nRUN one\nRUN two\nCOPY b /b\n"
        "RUN make REV=$REV\nRUN after\n"
    )
    got = _run(text, {n: [("file", f"f{n}", 10)] for n in (3, 4, 5, 6, 7, 8)})
    # the COPY on line 3 precedes the first RUN, so it stays cached
    assert got == [("early-arg", (2,), 0, 3)]


def test_copy_before_deps_counts_every_install() -> None:
    text = "FROM busybox\nCOPY ./ /src\nRUN npm ci\nRUN go mod download\nRUN make\n"
    got = _run(text, {3: [("file", "n", 300)], 4: [("file", "g", 200)], 5: [("file", "m", 1)]})
    assert got == [("copy-before-deps", (2, 3, 4), 500, 2)]


def test_context_without_dockerignore_is_measured(tmp_path) -> None:
    """.git cannot live in testdata (git refuses it), so make one here: the image holds
    no junk (say .git was removed later), but the context still sends it every build."""
    from builder.inspect.pitfalls import files

    ctx = tmp_path / "ctx"
    (ctx / ".git" / "objects").mkdir(parents=True)
    (ctx / ".git" / "objects" / "pack").write_bytes(bytes(7000))
    (ctx / "src").mkdir()
    (ctx / "src" / "main.c").write_bytes(bytes(50))
    assert files.context_junk_bytes(str(ctx)) == 7000
    (ctx / ".dockerignore").write_text(".git\n")
    assert files.context_junk_bytes(str(ctx)) == 0
