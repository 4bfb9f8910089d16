"""Every request the client makes during push, mount, chunked upload and pull is one of
the distribution-spec endpoints (conformance/distribution-spec/endpoints.txt), and the
real registry answered it with one of that endpoint's success codes."""

from __future__ import annotations

import random
import re

from registry_client import pull_image, push_image
from registry_client.push import PushOptions
from store.layout import open_store
from tests.fixtures.registry import unique_repo
from tests.fixtures.registry_images import make_image, put_in_store

_PLACEHOLDERS = {
    "<name>": r"[a-z0-9._/-]+?",
    "<digest>": r"[a-z0-9]+(?:%3A|:)[a-f0-9]+",
    "<tag-or-digest>": r"[A-Za-z0-9_.:%-]+",
    "<algorithm>": r"[a-z0-9]+",
    "<other_name>": r"[a-z0-9._%/-]+",
    "<integer>": r"[0-9]+",
    "<tagname>": r"[^&]+",
    "<artifactType>": r"[^&]+",
}


def _endpoints(conformance) -> list[tuple[str, str, re.Pattern[str], set[int]]]:
    out = []
    for line in (conformance / "distribution-spec" / "endpoints.txt").read_text().splitlines():
        if not line or line.startswith("#"):
            continue
        eid, method, path, ok, fail = line.split("\t")
        if "<blob-push-location>" in path:
            # An upload location (docker-registry: /v2/<name>/blobs/uploads/<uuid>?_state=...).
            rx = r"/v2/[a-z0-9._/-]+/blobs/uploads/[A-Za-z0-9-]+(?:\?.*)?"
        else:
            rx = re.escape(path)
            for ph, sub in _PLACEHOLDERS.items():
                rx = rx.replace(re.escape(ph), sub)
            rx = rx.replace(r"\?", r"\?") + r"(?:[?&].*)?"
        # Both columns are in-spec answers (a HEAD for a missing blob is a 404).
        codes = {int(c) for c in f"{ok},{fail}".split(",") if c}
        out.append((eid, method, re.compile(rx), codes))
    return out


def test_requests_follow_the_endpoint_table(conformance, fault_proxy, registry_store, tmp_path):
    table = _endpoints(conformance)
    img = make_image([{"e.txt": b"endpoints"}, {"big": random.Random(3).randbytes(20000)}])
    desc = put_in_store(registry_store, img)
    host, first = fault_proxy.host, unique_repo("ep")
    push_image(
        registry_store,
        desc,
        f"{host}/{first}:1",
        options=PushOptions(chunked_threshold=4096, chunk_size=8192),
    )
    push_image(registry_store, desc, f"{host}/{unique_repo('ep2')}:1", tags=["2"])  # mounts
    st = open_store(tmp_path / "s")
    pull_image(st, f"{host}/{first}:1")
    st.close()
    used = set()
    assert fault_proxy.answers
    for method, path, status in fault_proxy.answers:
        if path == "/v2/" and method == "GET":
            used.add("end-1")
            assert status in (200, 401)
            continue
        hits = [(eid, ok) for eid, m, rx, ok in table if m == method and rx.fullmatch(path)]
        assert hits, f"{method} {path} is not a spec endpoint"
        assert any(status in codes for _, codes in hits), f"{method} {path} -> {status}"
        used.update(eid for eid, _ in hits)
    assert {"end-2", "end-3", "end-4a", "end-5", "end-6", "end-7a", "end-11"} <= used
