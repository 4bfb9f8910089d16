"""The Dockerfiles built by both pybuild and BuildKit (dockerd 20.10's builtin
frontend, so no heredocs or COPY --link, which it lacks). Each case: Dockerfile, the
context files (path -> text, or (text, mode)), build args, --target, --label."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class Case:
    name: str
    dockerfile: str
    files: dict = field(default_factory=dict)
    build_args: dict = field(default_factory=dict)
    target: str | None = None
    labels: dict = field(default_factory=dict)
    # RUN --mount targets: BuildKit 0.8 (dockerd 20.10) leaves their stub directories
    # in the layer, newer BuildKit and pybuild do not; they are runtime mount points
    mount_points: tuple = ()
    # --secret id=ID,src=FILE for both builders: ID -> the file's text (in the context dir's
    # sibling, never in the context)
    secrets: dict = field(default_factory=dict)


CASES = [
    Case(
        "arg_env_expansion",
        """\
ARG BASE=busybox
FROM $BASE
ARG VERSION=1.0
ARG USERNAME=app
ENV APP=/opt/app-${VERSION} PORT=8080 SIG=SIGINT
LABEL version=$VERSION app.dir="${APP}"
WORKDIR $APP
COPY a.txt ${APP}/copied-${VERSION}.txt
EXPOSE $PORT ${PORT}/udp
VOLUME $APP/data
USER ${USERNAME}
STOPSIGNAL $SIG
RUN echo "$VERSION $APP" > /tmp/out
ENV PORT=${PORT:-1}0 EMPTY=${UNSET:-fallback}
""",
        files={"a.txt": "a\n"},
        build_args={"VERSION": "2.5"},
    ),
    Case(
        "copy_corner_cases",
        """\
FROM busybox
COPY dir /dst/
COPY dir/sub/b.txt /single
COPY a.txt dir/sub/ /multi/
COPY *.md /docs/
COPY a.txt /tmp
COPY --chown=app:app a.txt /owned/byname
COPY --chown=1234:4321 a.txt /owned/byid
COPY --chmod=640 a.txt /modes/a
COPY exec.sh /bin/
COPY . /whole/
""",
        files={
            "a.txt": "a\n",
            "dir/sub/b.txt": "b\n",
            "dir/c.txt": "c\n",
            "x.md": "x\n",
            "y.md": "y\n",
            "exec.sh": ("#!/bin/sh\necho hi\n", 0o755),
        },
    ),
    Case(
        "dockerignore_exceptions",
        """\
FROM busybox
COPY . /ctx/
""",
        files={
            ".dockerignore": "*.log\nsecret/\n!keep.log\nbuild/**\n!build/dist/\n",
            "a.log": "x",
            "keep.log": "k",
            "secret/key": "s",
            "build/tmp/t": "t",
            "build/dist/app": "app",
            "src/main.c": "int main;",
        },
    ),
    Case(
        "multistage_from",
        """\
FROM busybox AS builder
RUN mkdir -p /out && echo built > /out/bin && chmod 755 /out/bin
FROM busybox AS second
RUN echo two > /two
FROM busybox
COPY --from=builder /out/bin /usr/local/bin/app
COPY --from=1 /two /two
COPY --from=busybox /etc/group /group.copy
""",
    ),
    Case(
        "target_stage",
        """\
FROM busybox AS base
RUN echo base > /base
FROM base AS test
RUN echo test > /test
FROM base AS prod
RUN echo prod > /prod
""",
        target="test",
    ),
    Case(
        "whiteouts_opaque",
        """\
FROM busybox
RUN mkdir -p /data/old && echo 1 > /data/old/f && echo 2 > /data/keep && echo g > /gone
RUN rm /gone && rm -rf /data && mkdir /data && echo new > /data/new
RUN rm -f /etc/group && rm /bin/vi && rm -rf /home/app
""",
    ),
    Case(
        "links_and_modes",
        """\
FROM busybox
RUN mkdir /l && echo content > /l/file && ln /l/file /l/hard && ln -s file /l/soft \
 && ln -s /etc/passwd /l/abs && chmod 4755 /l/file && mkdir -m 1777 /l/sticky \
 && touch /l/g && chmod 2750 /l/g && chown 7:8 /l/g
""",
    ),
    Case(
        "user_by_name_and_ids",
        """\
FROM busybox
USER app
RUN touch /tmp/by-name && mkdir -p /home/app/made
USER 1234:4321
RUN touch /tmp/by-ids
USER root
RUN chown app:app /tmp/by-ids
USER nobody
""",
    ),
    Case(
        "entrypoint_cmd_forms",
        """\
FROM busybox AS s1
CMD echo shell form
FROM s1 AS s2
ENTRYPOINT ["/bin/echo", "exec"]
FROM s2 AS s3
CMD ["--flag"]
ENTRYPOINT /bin/echo shell entry
FROM s3
CMD ["x", "y"]
""",
    ),
    Case(
        "healthcheck_onbuild_stopsignal_volume_expose",
        """\
FROM busybox
HEALTHCHECK --interval=5m --timeout=3s --start-period=10s --retries=4 CMD wget -q http://localhost/ || exit 1
ONBUILD RUN echo on
ONBUILD COPY . /app
STOPSIGNAL SIGTERM
VOLUME ["/v1", "/v2"]
VOLUME /v3 /v4
EXPOSE 80/tcp 443 53/udp 7000-7002
""",
    ),
    Case(
        "healthcheck_none_and_exec",
        """\
FROM busybox AS a
HEALTHCHECK CMD ["/bin/true", "x"]
FROM a
HEALTHCHECK NONE
""",
    ),
    Case(
        "workdir_relative_and_owner",
        """\
FROM busybox
WORKDIR /a
WORKDIR b
WORKDIR ../c/./d
USER app
WORKDIR /owned/by/app
RUN touch inside
""",
    ),
    Case(
        "add_local_archive",
        """\
FROM busybox
ADD files.tar /extracted/
ADD plain.txt /plain/
""",
        files={"plain.txt": "plain\n"},
    ),
    Case(
        "shell_instruction",
        """\
FROM busybox
SHELL ["/bin/sh", "-ec"]
RUN echo $0 > /which-shell
CMD echo hi
ENTRYPOINT echo entry
""",
    ),
    Case(
        "labels_maintainer_cli",
        """\
FROM busybox
MAINTAINER someone <s@example.com>
LABEL a=1 b="two words" "c d"=3
LABEL a=override
""",
        labels={"cli.label": "yes", "b": "from-cli"},
    ),
    Case(
        "meta_args_and_env_forms",
        """\
ARG TAG=latest
ARG UNUSED=x
FROM busybox:${TAG}
ARG TAG
ARG LATE=${TAG}-late
ENV OLD_FORM value with spaces
ENV A=1 B="two words" C=${A}${TAG}
RUN echo "$TAG $LATE $OLD_FORM $C" > /vars
""",
        build_args={"TAG": "latest"},
    ),
    Case(
        "copy_from_stage_with_owner_and_symlinked_dest",
        """\
FROM busybox AS src
RUN mkdir -p /out/d && echo f > /out/d/f && chown -R 7:7 /out
FROM busybox
RUN mkdir /real && ln -s /real /link
COPY --from=src /out /kept-owner/
COPY --from=src --chown=app:app /out/d /reowned/
COPY a.txt /link/
ADD --chown=1000:1000 a.txt /added/
""",
        files={"a.txt": "a\n"},
    ),
    Case(
        "scratch_with_files",
        """\
FROM busybox AS tools
RUN mkdir -p /out/bin && cp /bin/busybox /out/bin/sh
FROM scratch
COPY --from=tools /out/ /
COPY a.txt /data/
ENV X=1
""",
        files={"a.txt": "a\n"},
    ),
    Case(
        "run_cache_mount",
        """\
FROM busybox
RUN --mount=type=cache,target=/var/cache/thing echo cached > /var/cache/thing/x && ls /var/cache/thing > /listing
RUN --mount=type=tmpfs,target=/scratch touch /scratch/t && ls /scratch > /tmpfs-listing
""",
        mount_points=("scratch", "var/cache", "var/cache/thing"),
    ),
    Case(
        "cache_mount_seeded_from_a_stage",
        """\
FROM busybox AS seed
RUN mkdir -p /s/deps && echo seeded > /s/deps/v && chown 5:6 /s/deps/v
FROM busybox
RUN --mount=type=cache,target=/c,id=interop-seeded,from=seed,source=/s/deps \
    echo run >> /c/v && cp /c/v /seen && stat -c %u:%g /c/v > /owner
""",
        mount_points=("c",),
    ),
    Case(
        "run_bind_mounts_from_stage_and_context",
        """\
FROM busybox AS src
RUN mkdir /data && echo fromstage > /data/f
FROM busybox
RUN --mount=type=bind,from=src,source=/data,target=/mnt cat /mnt/f > /copied
RUN --mount=type=bind,source=sub,target=/sub cat /sub/b.txt > /ctx-copied
RUN --mount=type=bind,target=/ctx,rw touch /ctx/new && ls /ctx > /ctx-list
""",
        files={"sub/b.txt": "b\n"},
        mount_points=("mnt", "sub", "ctx"),
    ),
    Case(
        "run_secret_mounts",
        """\
FROM busybox
RUN --mount=type=secret,id=tok wc -c < /run/secrets/tok > /len \
    && stat -c %a /run/secrets/tok > /secret-mode
RUN --mount=type=secret,id=tok,target=/etc/tok.conf,mode=0440,uid=5 \
    stat -c "%a %u" /etc/tok.conf > /custom && cat /etc/tok.conf | head -c 3 > /prefix
""",
        secrets={"tok": "s3cr3t-value"},
        mount_points=("run/secrets", "run"),
    ),
    Case(
        "onbuild_of_a_stage",
        """\
FROM busybox AS base
ONBUILD RUN echo from-stage > /trig
ONBUILD COPY a.txt /onbuild-a.txt
RUN echo base > /b
FROM base
RUN cat /trig /b > /both
""",
        files={"a.txt": "a\n"},
    ),
]


def tarball(files: dict[str, str]) -> bytes:
    """A small deterministic tar for ADD's extraction."""
    import io
    import tarfile

    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=tarfile.PAX_FORMAT) as tf:
        for name, text in sorted(files.items()):
            data = text.encode()
            ti = tarfile.TarInfo(name)
            ti.size, ti.mtime, ti.mode = len(data), 1600000000, 0o640
            tf.addfile(ti, io.BytesIO(data))
    return buf.getvalue()


for _c in CASES:
    if _c.name == "add_local_archive":
        _c.files["files.tar"] = tarball({"top.txt": "top\n", "nested/deep.txt": "deep\n"})
