"""Inspect and teach (ARCHITECTURE §10): per-layer sizes and changes mapped to
Dockerfile lines, wasted bytes and dive's efficiency score, the pitfall catalog with
fixes, and the build-time cache report.

Modules: tarscan (a layer blob decompressed and listed by store.oci.tar's reader),
layers (merged tree, per-layer changes), waste (dive's arithmetic), history
(created_by/markers -> lines), dockerfile (lenient reader), pitfalls/ (the catalog),
analyze (the pipeline), sources/remote (store, oci:, oci-archive:, docker-archive:,
registry), report_terminal, report_html, ci, cache_report; `schema.json` documents the `--json` output.

How a pybuild-built image records its Dockerfile lines (the engine must write this):
each history entry the build makes carries, in its `comment`, the marker
`pybuild:line=N` (or `pybuild:line=N-M` for an instruction spanning lines N..M),
optionally followed by ` pybuild:build=ID` (a short id unique to the build, so the
layers of a pybuild-built *base* image are told apart). Other text may surround it
(`history.marker_comment(line, end_line, build)` makes the string). Why `comment` and
not an extra key: the OCI schema allows extra keys, but tools that re-encode history
through typed structs (go-containerregistry, containerd, docker) keep only the five
known fields, so an extra key would vanish on `crane mutate` or `docker load`/`save`.
"""
