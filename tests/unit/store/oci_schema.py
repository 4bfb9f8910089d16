"""The OCI JSON schemas of testdata/conformance/oci-image-spec (draft-04, registered under their
file names and the alias URLs of schema-urls.tsv), and our own parsers as a
validator with the same interface, for table tests and for checking what we write."""

from __future__ import annotations

import json
from functools import cache
from pathlib import Path
from typing import Any

import jsonschema
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT4

from store.errors import StoreError
from store.layout import check_layout_header
from store.oci.config import ImageConfig
from store.oci.digest import Descriptor
from store.oci.manifest import Index, Manifest
from tests.fixtures.common import conformance_dir

SCHEMA_FOR = {
    "application/vnd.oci.descriptor.v1+json": "content-descriptor.json",
    "application/vnd.oci.layout.header.v1+json": "image-layout-schema.json",
    "application/vnd.oci.image.manifest.v1+json": "image-manifest-schema.json",
    "application/vnd.oci.image.index.v1+json": "image-index-schema.json",
    "application/vnd.oci.image.config.v1+json": "config-schema.json",
}


def oci_dir() -> Path:
    return conformance_dir() / "oci-image-spec"


@cache
def _registry() -> tuple[Registry, dict[str, Any]]:
    schemas = {p.name: json.loads(p.read_text()) for p in (oci_dir() / "schema").glob("*.json")}
    pairs = []
    for name, doc in schemas.items():
        pairs.append((name, Resource.from_contents(doc, default_specification=DRAFT4)))
    for line in (oci_dir() / "schema-urls.tsv").read_text().splitlines()[1:]:
        if line.strip():
            fname, url = line.split("\t")
            pairs.append(
                (url, Resource.from_contents(schemas[fname], default_specification=DRAFT4))
            )
    return Registry().with_resources(pairs), schemas


def schema_errors(media_type: str, doc: Any) -> list[str]:
    """Plain draft-04 validation (no format assertions), as the README describes."""
    registry, schemas = _registry()
    v = jsonschema.Draft4Validator(schemas[SCHEMA_FOR[media_type]], registry=registry)
    return [e.message for e in v.iter_errors(doc)]


def parser_accepts(media_type: str, doc: Any) -> bool:
    """Our parsers as a validator: True when pybuild would accept the document."""
    try:
        if media_type.endswith("descriptor.v1+json"):
            Descriptor.from_json(doc)
        elif media_type.endswith("manifest.v1+json"):
            Manifest.from_json(doc, strict=True)
        elif media_type.endswith("index.v1+json"):
            Index.from_json(doc)
        elif media_type.endswith("config.v1+json"):
            ImageConfig.from_json(doc)
        elif media_type.endswith("layout.header.v1+json"):
            check_layout_header(doc)
        else:
            raise AssertionError(media_type)
    except StoreError:
        return False
    return True
