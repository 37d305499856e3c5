"""Tests for hoist.model.manifest (image-spec manifest.md / image-index.md, Docker schema2)."""

from __future__ import annotations

import hashlib
import json
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from support.json_fuzz import MANIFESTISH, MEDIA_TYPES, encoded

from hoist.errors import (
    HoistError,
    InvalidManifest,
    NotFound,
    PlatformNotFound,
    UnsupportedMediaType,
)
from hoist.model import mediatype as mt
from hoist.model.descriptor import EMPTY_DESCRIPTOR, Descriptor
from hoist.model.digest import Digest, digest_of
from hoist.model.manifest import (
    MAX_MANIFEST_SIZE,
    ImageManifest,
    Index,
    Schema1Manifest,
    parse_manifest,
)
from hoist.model.platform import Platform


def h(n: int) -> str:
    return "sha256:" + hashlib.sha256(str(n).encode()).hexdigest()


def pretty(o: Any, indent: int | str = 3) -> bytes:
    return json.dumps(o, indent=indent).encode()


# --------------------------------------------------------------------------- real-shaped documents

OCI_MANIFEST_OBJ: dict[str, Any] = {
    "schemaVersion": 2,
    "mediaType": mt.OCI_MANIFEST,
    "config": {"mediaType": mt.OCI_CONFIG, "digest": h(1), "size": 7023},
    "layers": [
        {"mediaType": mt.OCI_LAYER_GZIP, "digest": h(2), "size": 32654},
        {"mediaType": mt.OCI_LAYER_GZIP, "digest": h(3), "size": 16724},
        {"mediaType": mt.OCI_LAYER_GZIP, "digest": h(4), "size": 73109},
    ],
    "annotations": {"com.example.key1": "value1", "com.example.key2": "value2"},
}

OCI_INDEX_OBJ: dict[str, Any] = {
    "schemaVersion": 2,
    "mediaType": mt.OCI_INDEX,
    "manifests": [
        {
            "mediaType": mt.OCI_MANIFEST,
            "digest": h(10),
            "size": 7143,
            "platform": {"architecture": "ppc64le", "os": "linux"},
        },
        {
            "mediaType": mt.OCI_MANIFEST,
            "digest": h(11),
            "size": 7682,
            "platform": {"architecture": "amd64", "os": "linux"},
        },
    ],
    "annotations": {"com.example.key1": "value1"},
}

DOCKER_MANIFEST_OBJ: dict[str, Any] = {
    "schemaVersion": 2,
    "mediaType": mt.DOCKER_MANIFEST,
    "config": {"mediaType": mt.DOCKER_CONFIG, "size": 7023, "digest": h(20)},
    "layers": [
        {"mediaType": mt.DOCKER_LAYER, "size": 32654, "digest": h(21)},
        {"mediaType": mt.DOCKER_LAYER, "size": 16724, "digest": h(22)},
        {
            "mediaType": mt.DOCKER_FOREIGN_LAYER,
            "size": 1024,
            "digest": h(23),
            "urls": ["https://mcr.microsoft.com/v2/windows/blobs/" + h(23)],
        },
    ],
}

DOCKER_LIST_OBJ: dict[str, Any] = {
    "schemaVersion": 2,
    "mediaType": mt.DOCKER_MANIFEST_LIST,
    "manifests": [
        {
            "mediaType": mt.DOCKER_MANIFEST,
            "size": 7143,
            "digest": h(30),
            "platform": {"architecture": "ppc64le", "os": "linux"},
        },
        {
            "mediaType": mt.DOCKER_MANIFEST,
            "size": 7682,
            "digest": h(31),
            "platform": {"architecture": "amd64", "os": "linux", "features": ["sse4"]},
        },
        {
            "mediaType": mt.DOCKER_MANIFEST,
            "size": 7682,
            "digest": h(32),
            "platform": {"architecture": "arm", "os": "linux", "variant": "v7"},
        },
    ],
}

SCHEMA1_OBJ: dict[str, Any] = {
    "schemaVersion": 1,
    "name": "library/hello-world",
    "tag": "latest",
    "architecture": "amd64",
    "fsLayers": [{"blobSum": h(40)}, {"blobSum": h(41)}],
    "history": [
        {"v1Compatibility": '{"id":"e45a5af57b00","parent":"31cbccb51277"}'},
        {"v1Compatibility": '{"id":"31cbccb51277","created":"2014-02-03T15:58:08Z"}'},
    ],
}

SCHEMA1_SIGNED_OBJ: dict[str, Any] = {
    **SCHEMA1_OBJ,
    "signatures": [
        {
            "header": {
                "jwk": {
                    "crv": "P-256",
                    "kid": "OD6I:6DRK:JXEJ:KBM4:255X:NSAA:MUSF:E4VM:ZI6W:CUN2:L4Z6:LSF4",
                    "kty": "EC",
                    "x": "3gAwX48IQ5oaYQAYSxor6rYYc_6yjuLCjtQ9LUakg4A",
                    "y": "t72ge6kIA1XOjqjVoEOiPPAURltJFBMGDSQvEGVB010",
                },
                "alg": "ES256",
            },
            "signature": "XREm0L8WNn27Ga_iE_vRnTxVMhhYY0Zst_FfkKopg6gWSoTOZTuW4rK0fg_IqnKkEKlbD8",
            "protected": "eyJmb3JtYXRMZW5ndGgiOjY2MjgsImZvcm1hdFRhaWwiOiJDbjAiLCJ0aW1lIjoiMjAx",
        }
    ],
}

ARTIFACT_OBJ: dict[str, Any] = {
    "schemaVersion": 2,
    "mediaType": mt.OCI_MANIFEST,
    "artifactType": "application/vnd.example.sbom.v1+json",
    "config": EMPTY_DESCRIPTOR.to_dict(),
    "layers": [
        {
            "mediaType": "application/vnd.example.sbom.v1+json",
            "digest": h(50),
            "size": 1234,
            "annotations": {"org.opencontainers.image.title": "sbom.json"},
        }
    ],
    "subject": {"mediaType": mt.OCI_MANIFEST, "digest": h(51), "size": 1000},
    "annotations": {"org.opencontainers.image.created": "2023-08-01T12:00:00Z"},
}


def descs(objs: list[dict[str, Any]]) -> tuple[Descriptor, ...]:
    return tuple(Descriptor.from_dict(o) for o in objs)


PARSE_CASES = [
    pytest.param(
        OCI_MANIFEST_OBJ, mt.OCI_MANIFEST, ImageManifest, mt.OCI_MANIFEST, id="oci-manifest"
    ),
    pytest.param(
        OCI_MANIFEST_OBJ, None, ImageManifest, mt.OCI_MANIFEST, id="oci-manifest-no-header"
    ),
    pytest.param(
        OCI_MANIFEST_OBJ,
        mt.OCI_MANIFEST + "; charset=utf-8",
        ImageManifest,
        mt.OCI_MANIFEST,
        id="oci-manifest-header-params",
    ),
    pytest.param(
        {k: v for k, v in OCI_MANIFEST_OBJ.items() if k != "mediaType"},
        None,
        ImageManifest,
        mt.OCI_MANIFEST,
        id="oci-manifest-no-mediaType-guessed",
    ),
    pytest.param(
        {k: v for k, v in OCI_MANIFEST_OBJ.items() if k != "mediaType"},
        mt.DOCKER_MANIFEST,
        ImageManifest,
        mt.DOCKER_MANIFEST,
        id="no-mediaType-header-decides",
    ),
    pytest.param(
        OCI_MANIFEST_OBJ,
        "application/octet-stream",
        ImageManifest,
        mt.OCI_MANIFEST,
        id="generic-header-body-decides",
    ),
    pytest.param(OCI_INDEX_OBJ, mt.OCI_INDEX, Index, mt.OCI_INDEX, id="oci-index"),
    pytest.param(
        {k: v for k, v in OCI_INDEX_OBJ.items() if k != "mediaType"},
        None,
        Index,
        mt.OCI_INDEX,
        id="oci-index-guessed",
    ),
    pytest.param(
        DOCKER_MANIFEST_OBJ,
        mt.DOCKER_MANIFEST,
        ImageManifest,
        mt.DOCKER_MANIFEST,
        id="docker-manifest",
    ),
    pytest.param(
        DOCKER_LIST_OBJ,
        mt.DOCKER_MANIFEST_LIST,
        Index,
        mt.DOCKER_MANIFEST_LIST,
        id="docker-list",
    ),
    pytest.param(DOCKER_LIST_OBJ, None, Index, mt.DOCKER_MANIFEST_LIST, id="docker-list-no-header"),
    pytest.param(ARTIFACT_OBJ, mt.OCI_MANIFEST, ImageManifest, mt.OCI_MANIFEST, id="artifact"),
    pytest.param(SCHEMA1_OBJ, None, Schema1Manifest, mt.DOCKER_SCHEMA1, id="schema1-guessed"),
    pytest.param(SCHEMA1_OBJ, mt.DOCKER_SCHEMA1, Schema1Manifest, mt.DOCKER_SCHEMA1, id="schema1"),
    pytest.param(
        SCHEMA1_OBJ,
        "application/json",
        Schema1Manifest,
        mt.DOCKER_SCHEMA1,
        id="schema1-application-json",
    ),
    pytest.param(
        SCHEMA1_SIGNED_OBJ,
        None,
        Schema1Manifest,
        mt.DOCKER_SCHEMA1_SIGNED,
        id="schema1-signed-guessed",
    ),
    pytest.param(
        SCHEMA1_SIGNED_OBJ,
        mt.DOCKER_SCHEMA1_SIGNED,
        Schema1Manifest,
        mt.DOCKER_SCHEMA1_SIGNED,
        id="schema1-signed",
    ),
]


@pytest.mark.parametrize(("body", "header", "cls", "media_type"), PARSE_CASES)
def test_parse_kinds(body: dict[str, Any], header: str | None, cls: type, media_type: str) -> None:
    raw = pretty(body)
    m = parse_manifest(raw, header)
    assert type(m) is cls
    assert m.media_type == media_type
    assert m.raw is raw
    assert m.size == len(raw)
    assert m.digest == digest_of(raw)
    assert m.json() == body
    d = m.descriptor()
    assert (d.media_type, d.digest, d.size) == (media_type, m.digest, len(raw))
    if isinstance(m, ImageManifest):
        assert m.config == Descriptor.from_dict(body["config"])
        assert m.layers == descs(body["layers"])
        assert m.referenced() == (m.config, *m.layers)
        assert m.annotations == body.get("annotations", {})
        assert m.is_docker is (media_type == mt.DOCKER_MANIFEST)
    elif isinstance(m, Index):
        assert m.manifests == descs(body["manifests"])
        assert m.referenced() == m.manifests
        assert m.annotations == body.get("annotations", {})
    else:
        assert (m.name, m.tag) == ("library/hello-world", "latest")


def test_docker_manifest_fields() -> None:
    m = parse_manifest(pretty(DOCKER_MANIFEST_OBJ), mt.DOCKER_MANIFEST)
    assert isinstance(m, ImageManifest)
    assert m.is_docker
    assert m.config.media_type == mt.DOCKER_CONFIG
    assert [x.media_type for x in m.layers] == [mt.DOCKER_LAYER] * 2 + [mt.DOCKER_FOREIGN_LAYER]
    assert m.layers[2].urls == ("https://mcr.microsoft.com/v2/windows/blobs/" + h(23),)
    assert m.subject is None and m.artifact_type is None


def test_docker_list_platforms() -> None:
    m = parse_manifest(pretty(DOCKER_LIST_OBJ))
    assert isinstance(m, Index)
    assert [str(p) for p in m.platforms()] == ["linux/ppc64le", "linux/amd64", "linux/arm/v7"]


def test_artifact_manifest() -> None:
    m = parse_manifest(pretty(ARTIFACT_OBJ), mt.OCI_MANIFEST)
    assert isinstance(m, ImageManifest)
    assert m.artifact_type == "application/vnd.example.sbom.v1+json"
    assert m.config == EMPTY_DESCRIPTOR
    assert m.config.data == b"{}"
    assert m.subject == Descriptor(mt.OCI_MANIFEST, Digest.parse(h(51)), 1000)
    assert m.layers[0].annotations["org.opencontainers.image.title"] == "sbom.json"
    assert m.annotations == {"org.opencontainers.image.created": "2023-08-01T12:00:00Z"}


def test_index_with_subject_and_artifact_type() -> None:
    body = {
        **OCI_INDEX_OBJ,
        "artifactType": "application/vnd.example.bundle",
        "subject": {"mediaType": mt.OCI_INDEX, "digest": h(60), "size": 321},
    }
    m = parse_manifest(pretty(body))
    assert isinstance(m, Index)
    assert m.artifact_type == "application/vnd.example.bundle"
    assert m.subject is not None and m.subject.size == 321


@pytest.mark.parametrize(
    "body",
    [pytest.param(SCHEMA1_OBJ, id="unsigned"), pytest.param(SCHEMA1_SIGNED_OBJ, id="signed")],
)
def test_schema1_referenced_unsupported(body: dict[str, Any]) -> None:
    m = parse_manifest(pretty(body))
    assert isinstance(m, Schema1Manifest)
    with pytest.raises(UnsupportedMediaType) as info:
        m.referenced()
    assert isinstance(info.value, ValueError)
    assert isinstance(info.value, HoistError)
    assert info.value.media_type == m.media_type
    assert "schema1" in str(info.value)
    assert m.json() == body


# --------------------------------------------------------------------------- digest = raw bytes


def _reversed_keys(o: Any) -> Any:
    if isinstance(o, dict):
        return {k: _reversed_keys(o[k]) for k in reversed(list(o))}
    if isinstance(o, list):
        return [_reversed_keys(x) for x in o]
    return o


@pytest.mark.parametrize(
    "raw",
    [
        pytest.param(json.dumps(OCI_MANIFEST_OBJ, indent="\t").encode(), id="tab-indent"),
        pytest.param(
            json.dumps(_reversed_keys(OCI_MANIFEST_OBJ), indent="\t").encode() + b"\n",
            id="tabs-reversed-keys-newline",
        ),
        pytest.param(
            json.dumps(OCI_MANIFEST_OBJ, indent=2).replace("\n", "\r\n").encode(), id="crlf"
        ),
        pytest.param(
            b"  \n\t"
            + json.dumps(OCI_MANIFEST_OBJ, separators=(" ,  ", " :\t")).encode()
            + b"\n\n",
            id="odd-separators",
        ),
        pytest.param(
            json.dumps(OCI_MANIFEST_OBJ, sort_keys=True, indent=1).encode(), id="sorted-keys"
        ),
        pytest.param(
            json.dumps(
                {**OCI_MANIFEST_OBJ, "annotations": {"k": "caf\u00e9 \u2603"}}, indent="\t"
            ).encode(),
            id="ascii-escapes",
        ),
        pytest.param(
            json.dumps(
                {**OCI_MANIFEST_OBJ, "annotations": {"k": "caf\u00e9 \u2603"}},
                indent="\t",
                ensure_ascii=False,
            ).encode(),
            id="raw-utf8",
        ),
    ],
)
def test_digest_is_of_exact_bytes(raw: bytes) -> None:
    m = parse_manifest(raw, mt.OCI_MANIFEST)
    assert m.raw == raw
    assert m.digest == Digest("sha256", hashlib.sha256(raw).hexdigest())
    assert m.descriptor().size == len(raw)
    # Re-serialising would give other bytes and another digest: prove it did not happen.
    for other in (
        json.dumps(m.json(), separators=(",", ":")).encode(),
        json.dumps(m.json(), separators=(",", ":"), ensure_ascii=False).encode(),
        json.dumps(m.json(), indent=3).encode(),
        json.dumps(m.json(), indent="\t").encode(),
    ):
        if other != raw:
            assert digest_of(other) != m.digest


@settings(max_examples=50)
@given(
    indent=st.none() | st.sampled_from([0, 1, 2, 4, "\t", " \t"]),
    sort_keys=st.booleans(),
    ensure_ascii=st.booleans(),
    lead=st.sampled_from(["", " ", "\n", "\t\r\n"]),
    trail=st.sampled_from(["", " ", "\n", "\r\n\t"]),
)
def test_digest_of_any_spelling(
    indent: int | str | None, sort_keys: bool, ensure_ascii: bool, lead: str, trail: str
) -> None:
    body = {**ARTIFACT_OBJ, "annotations": {"note": "\u00fcber \u2603"}}
    text = json.dumps(body, indent=indent, sort_keys=sort_keys, ensure_ascii=ensure_ascii)
    raw = (lead + text + trail).encode()
    m = parse_manifest(raw)
    assert m.digest == digest_of(raw)
    assert m.raw == raw
    assert m.json() == body


def test_unknown_fields_preserved() -> None:
    body = {
        **OCI_MANIFEST_OBJ,
        "x-vendor": {"nested": [1, 2.5, None, True], "s": "v"},
        "layers": [{**OCI_MANIFEST_OBJ["layers"][0], "x-layer-extra": "kept"}],
        "config": {**OCI_MANIFEST_OBJ["config"], "features": ["sse4"]},
    }
    raw = json.dumps(body, indent="\t").encode()
    m = parse_manifest(raw)
    assert isinstance(m, ImageManifest)
    out = m.json()
    assert out == body
    assert out["x-vendor"] == {"nested": [1, 2.5, None, True], "s": "v"}
    assert out["layers"][0]["x-layer-extra"] == "kept"
    # json() is a fresh copy each time.
    out["x-vendor"]["s"] = "changed"
    assert m.json()["x-vendor"]["s"] == "v"
    assert m.raw == raw


# --------------------------------------------------------------------------- invalid


def _without(o: dict[str, Any], key: str) -> dict[str, Any]:
    return {k: v for k, v in o.items() if k != key}


def _b(o: Any) -> bytes:
    return json.dumps(o).encode()


BAD_LAYER = {"mediaType": mt.OCI_LAYER_GZIP, "digest": h(2), "size": -1}

INVALID = [
    pytest.param(b"not json", None, InvalidManifest, "not valid JSON", id="not-json"),
    pytest.param(b"", None, InvalidManifest, "not valid JSON", id="empty"),
    pytest.param(b"{", None, InvalidManifest, "not valid JSON", id="truncated"),
    pytest.param(
        _b(OCI_MANIFEST_OBJ)[:-1],
        mt.OCI_MANIFEST,
        InvalidManifest,
        "not valid JSON",
        id="truncated-manifest",
    ),
    pytest.param(b"\xff\xfe\xfa{}", None, InvalidManifest, "not valid JSON", id="bad-utf8"),
    pytest.param(b"[" * 100_000, None, InvalidManifest, "not valid JSON", id="deep-nesting"),
    pytest.param(b"[]", None, InvalidManifest, "not a JSON object", id="json-array"),
    pytest.param(
        _b([OCI_MANIFEST_OBJ]),
        mt.OCI_MANIFEST,
        InvalidManifest,
        "not a JSON object",
        id="json-array-of-manifest",
    ),
    pytest.param(b'"manifest"', None, InvalidManifest, "not a JSON object", id="json-string"),
    pytest.param(b"2", None, InvalidManifest, "not a JSON object", id="json-number"),
    pytest.param(b"null", None, InvalidManifest, "not a JSON object", id="json-null"),
    pytest.param(
        _b({**OCI_MANIFEST_OBJ, "schemaVersion": 1}),
        None,
        InvalidManifest,
        "schemaVersion",
        id="schemaVersion-1-oci-mediaType",
    ),
    pytest.param(
        _b({**_without(OCI_MANIFEST_OBJ, "mediaType"), "schemaVersion": 1}),
        None,
        InvalidManifest,
        "schema",
        id="schemaVersion-1-no-markers",
    ),
    pytest.param(
        _b({**_without(OCI_MANIFEST_OBJ, "mediaType"), "schemaVersion": 1}),
        mt.DOCKER_SCHEMA1,
        InvalidManifest,
        "fsLayers",
        id="schemaVersion-1-schema1-header-no-fsLayers",
    ),
    pytest.param(
        _b(_without(OCI_MANIFEST_OBJ, "mediaType")),
        mt.DOCKER_SCHEMA1_SIGNED,
        InvalidManifest,
        "schemaVersion 1",
        id="schema1-header-schemaVersion-2",
    ),
    pytest.param(
        _b({**SCHEMA1_OBJ, "fsLayers": {}}),
        None,
        InvalidManifest,
        "fsLayers",
        id="schema1-fsLayers-not-list",
    ),
    pytest.param(
        _b({**OCI_MANIFEST_OBJ, "schemaVersion": 3}),
        None,
        InvalidManifest,
        "schemaVersion",
        id="schemaVersion-3",
    ),
    pytest.param(
        _b({**OCI_INDEX_OBJ, "schemaVersion": 3}),
        mt.OCI_INDEX,
        InvalidManifest,
        "schemaVersion",
        id="index-schemaVersion-3",
    ),
    pytest.param(
        _b(_without(OCI_MANIFEST_OBJ, "schemaVersion")),
        None,
        InvalidManifest,
        "schemaVersion",
        id="schemaVersion-missing",
    ),
    pytest.param(
        _b({**OCI_MANIFEST_OBJ, "schemaVersion": "2"}),
        None,
        InvalidManifest,
        "schemaVersion",
        id="schemaVersion-string",
    ),
    pytest.param(
        _b(OCI_MANIFEST_OBJ),
        mt.DOCKER_MANIFEST,
        InvalidManifest,
        "differs",
        id="mediaType-oci-header-docker",
    ),
    pytest.param(
        _b(DOCKER_MANIFEST_OBJ),
        mt.OCI_MANIFEST,
        InvalidManifest,
        "differs",
        id="mediaType-docker-header-oci",
    ),
    pytest.param(
        _b(OCI_INDEX_OBJ),
        mt.OCI_MANIFEST,
        InvalidManifest,
        "differs",
        id="mediaType-index-header-manifest",
    ),
    pytest.param(
        _b(SCHEMA1_SIGNED_OBJ | {"mediaType": mt.DOCKER_SCHEMA1}),
        mt.DOCKER_SCHEMA1_SIGNED,
        InvalidManifest,
        "differs",
        id="mediaType-schema1-variants",
    ),
    pytest.param(
        _b({**OCI_MANIFEST_OBJ, "mediaType": 2}),
        None,
        InvalidManifest,
        "mediaType",
        id="mediaType-int",
    ),
    pytest.param(
        _b({**OCI_MANIFEST_OBJ, "layers": {}}),
        None,
        InvalidManifest,
        "layers",
        id="layers-object",
    ),
    pytest.param(
        _b({**OCI_MANIFEST_OBJ, "layers": OCI_MANIFEST_OBJ["layers"][0]}),
        None,
        InvalidManifest,
        "layers",
        id="layers-single-descriptor",
    ),
    pytest.param(
        _b(_without(OCI_MANIFEST_OBJ, "layers")),
        None,
        InvalidManifest,
        "layers",
        id="layers-missing",
    ),
    pytest.param(
        _b({**OCI_MANIFEST_OBJ, "layers": [OCI_MANIFEST_OBJ["layers"][0], BAD_LAYER]}),
        None,
        InvalidManifest,
        "layers[1]",
        id="layers-bad-child",
    ),
    pytest.param(
        _b({**OCI_MANIFEST_OBJ, "layers": [None]}),
        None,
        InvalidManifest,
        "layers[0]",
        id="layers-null-child",
    ),
    pytest.param(
        _b(_without(OCI_MANIFEST_OBJ, "config")),
        mt.OCI_MANIFEST,
        InvalidManifest,
        "config",
        id="config-missing",
    ),
    pytest.param(
        _b({**OCI_MANIFEST_OBJ, "config": {"mediaType": mt.OCI_CONFIG, "size": 2}}),
        None,
        InvalidManifest,
        "config",
        id="config-no-digest",
    ),
    pytest.param(
        _b({**OCI_INDEX_OBJ, "manifests": {}}),
        None,
        InvalidManifest,
        "manifests",
        id="manifests-object",
    ),
    pytest.param(
        _b({**OCI_INDEX_OBJ, "manifests": None}),
        None,
        InvalidManifest,
        "manifests",
        id="manifests-null",
    ),
    pytest.param(
        _b(_without(OCI_INDEX_OBJ, "manifests")),
        None,
        InvalidManifest,
        "manifests",
        id="manifests-missing",
    ),
    pytest.param(
        _b(
            {
                **OCI_INDEX_OBJ,
                "manifests": [
                    OCI_INDEX_OBJ["manifests"][0],
                    {**OCI_INDEX_OBJ["manifests"][1], "digest": "sha256:nothex"},
                ],
            }
        ),
        None,
        InvalidManifest,
        "manifests[1]",
        id="manifests-bad-digest",
    ),
    pytest.param(
        _b(
            {
                **OCI_INDEX_OBJ,
                "manifests": [{**OCI_INDEX_OBJ["manifests"][0], "platform": {"os": "linux"}}],
            }
        ),
        None,
        InvalidManifest,
        "manifests[0]",
        id="manifests-bad-platform",
    ),
    pytest.param(
        _b({**ARTIFACT_OBJ, "subject": {"mediaType": mt.OCI_MANIFEST}}),
        None,
        InvalidManifest,
        "subject",
        id="subject-incomplete",
    ),
    pytest.param(
        _b({**ARTIFACT_OBJ, "subject": h(1)}),
        None,
        InvalidManifest,
        "subject",
        id="subject-string",
    ),
    pytest.param(
        _b({**ARTIFACT_OBJ, "artifactType": ["x"]}),
        None,
        InvalidManifest,
        "artifactType",
        id="artifactType-list",
    ),
    pytest.param(
        _b({**OCI_MANIFEST_OBJ, "annotations": {"k": 1}}),
        None,
        InvalidManifest,
        "annotations",
        id="annotations-int",
    ),
    pytest.param(
        _b({**OCI_INDEX_OBJ, "annotations": ["k"]}),
        None,
        InvalidManifest,
        "annotations",
        id="index-annotations-list",
    ),
    pytest.param(
        _b({"schemaVersion": 2}),
        None,
        InvalidManifest,
        "cannot tell",
        id="no-kind",
    ),
    pytest.param(
        _b({"architecture": "amd64", "os": "linux", "rootfs": {"type": "layers"}}),
        mt.OCI_CONFIG,
        InvalidManifest,
        "cannot tell",
        id="config-header-config-body",
    ),
    pytest.param(
        _b({"schemaVersion": 2, "layers": []}),
        "application/octet-stream",
        InvalidManifest,
        "cannot tell",
        id="octet-stream-header-unguessable",
    ),
    pytest.param(
        _b({"schemaVersion": 2, "layers": []}),
        mt.OCI_LAYER_GZIP,
        InvalidManifest,
        "cannot tell",
        id="layer-header-unguessable",
    ),
    pytest.param(
        _b({"schemaVersion": 2, "mediaType": mt.OCI_CONFIG, "config": {}}),
        None,
        UnsupportedMediaType,
        "not a manifest media type",
        id="body-mediaType-config",
    ),
    pytest.param(
        _b({"schemaVersion": 2, "mediaType": "application/vnd.example+json"}),
        "application/vnd.example+json",
        UnsupportedMediaType,
        "not a manifest media type",
        id="body-and-header-unknown",
    ),
]


@pytest.mark.parametrize(("raw", "header", "exc", "fragment"), INVALID)
def test_parse_invalid(raw: bytes, header: str | None, exc: type, fragment: str) -> None:
    with pytest.raises(exc) as info:
        parse_manifest(raw, header)
    assert type(info.value) is exc
    assert isinstance(info.value, ValueError)
    assert isinstance(info.value, HoistError)
    assert fragment in str(info.value)
    if isinstance(info.value, UnsupportedMediaType):
        assert info.value.media_type


# --------------------------------------------------------------------------- size limit


def sized_manifest(size: int) -> bytes:
    """A valid OCI manifest of exactly ``size`` bytes (padded through an annotation)."""
    body = {**OCI_MANIFEST_OBJ, "annotations": {"pad": ""}}
    base = json.dumps(body, separators=(",", ":")).encode()
    assert size >= len(base)
    body["annotations"]["pad"] = "x" * (size - len(base))
    raw = json.dumps(body, separators=(",", ":")).encode()
    assert len(raw) == size
    return raw


def test_limit_constant() -> None:
    assert MAX_MANIFEST_SIZE == 4 * 1024 * 1024


@pytest.mark.parametrize(
    "size",
    [
        pytest.param(4 * 1024 * 1024, id="exactly-4MiB"),
        pytest.param(4 * 1024 * 1024 - 1, id="4MiB-minus-1"),
    ],
)
def test_size_at_limit_allowed(size: int) -> None:
    raw = sized_manifest(size)
    m = parse_manifest(raw, mt.OCI_MANIFEST)
    assert isinstance(m, ImageManifest)
    assert m.size == size
    assert m.digest == digest_of(raw)
    assert len(m.annotations["pad"]) > 4_000_000


@pytest.mark.parametrize(
    "raw",
    [
        pytest.param(sized_manifest(4 * 1024 * 1024 + 1), id="valid-manifest-plus-1"),
        pytest.param(sized_manifest(4 * 1024 * 1024) + b" ", id="valid-plus-trailing-space"),
        pytest.param(b" " * (4 * 1024 * 1024 + 1), id="whitespace"),
    ],
)
def test_size_over_limit_refused(raw: bytes) -> None:
    assert len(raw) == 4 * 1024 * 1024 + 1
    with pytest.raises(InvalidManifest, match="4 MiB"):
        parse_manifest(raw, mt.OCI_MANIFEST)


# --------------------------------------------------------------------------- build


CONFIG = Descriptor.of(mt.OCI_CONFIG, b'{"architecture":"amd64","os":"linux"}')
LAYERS = (Descriptor.of(mt.OCI_LAYER_GZIP, b"layer-1"), Descriptor.of(mt.OCI_LAYER_GZIP, b"l2"))


@pytest.mark.parametrize(
    ("kwargs", "media_type"),
    [
        pytest.param({}, mt.OCI_MANIFEST, id="oci"),
        pytest.param({"media_type": mt.DOCKER_MANIFEST}, mt.DOCKER_MANIFEST, id="docker"),
        pytest.param(
            {
                "annotations": {"org.opencontainers.image.created": "2024-01-01T00:00:00Z"},
                "subject": Descriptor(mt.OCI_MANIFEST, Digest.parse(h(70)), 500),
                "artifact_type": "application/vnd.example+type",
            },
            mt.OCI_MANIFEST,
            id="oci-artifact",
        ),
    ],
)
def test_image_manifest_build(kwargs: dict[str, Any], media_type: str) -> None:
    m = ImageManifest.build(CONFIG, LAYERS, **kwargs)
    assert m.media_type == media_type
    assert m.config == CONFIG and m.layers == LAYERS
    assert m.digest == digest_of(m.raw)
    assert m.is_docker is (media_type == mt.DOCKER_MANIFEST)
    obj = json.loads(m.raw)
    assert obj["schemaVersion"] == 2
    assert obj["mediaType"] == media_type
    assert obj["config"] == CONFIG.to_dict()
    assert obj["layers"] == [x.to_dict() for x in LAYERS]
    assert m.raw == json.dumps(obj, separators=(",", ":")).encode()  # compact
    for header in (media_type, None):
        assert parse_manifest(m.raw, header) == m
    assert m.subject == kwargs.get("subject")
    assert m.artifact_type == kwargs.get("artifact_type")
    assert m.annotations == kwargs.get("annotations", {})


def test_image_manifest_build_artifact_with_empty_config() -> None:
    m = ImageManifest.build(
        EMPTY_DESCRIPTOR, [Descriptor.of("text/plain", b"hi")], artifact_type="text/plain"
    )
    assert json.loads(m.raw)["config"] == {
        "mediaType": "application/vnd.oci.empty.v1+json",
        "digest": "sha256:44136fa355b3678a1146ad16f7e8649e94fb4fc21fe77e8310c060f61caaff8a",
        "size": 2,
        "data": "e30=",
    }
    parsed = parse_manifest(m.raw)
    assert isinstance(parsed, ImageManifest)
    assert parsed.config == EMPTY_DESCRIPTOR


@pytest.mark.parametrize(
    ("media_type", "child_type"),
    [
        pytest.param(mt.OCI_INDEX, mt.OCI_MANIFEST, id="oci"),
        pytest.param(mt.DOCKER_MANIFEST_LIST, mt.DOCKER_MANIFEST, id="docker"),
    ],
)
def test_index_build(media_type: str, child_type: str) -> None:
    children = [
        Descriptor(child_type, Digest.parse(h(80)), 100, platform=Platform("linux", "amd64")),
        Descriptor(child_type, Digest.parse(h(81)), 200, platform=Platform("linux", "arm64", "v8")),
    ]
    ix = Index.build(children, media_type=media_type, annotations={"k": "v"})
    assert ix.media_type == media_type
    assert ix.manifests == tuple(children)
    assert ix.annotations == {"k": "v"}
    assert ix.digest == digest_of(ix.raw)
    obj = json.loads(ix.raw)
    assert (obj["schemaVersion"], obj["mediaType"]) == (2, media_type)
    assert obj["manifests"][1]["platform"] == {
        "architecture": "arm64",
        "os": "linux",
        "variant": "v8",
    }
    assert parse_manifest(ix.raw, media_type) == ix
    assert parse_manifest(ix.raw) == ix


def test_index_build_empty() -> None:
    ix = Index.build([])
    assert ix.manifests == ()
    assert ix.platforms() == []
    assert json.loads(ix.raw) == {"schemaVersion": 2, "mediaType": mt.OCI_INDEX, "manifests": []}


# --------------------------------------------------------------------------- choose / platforms


def child(n: int, platform: str | None, media_type: str = mt.OCI_MANIFEST) -> Descriptor:
    return Descriptor(
        media_type,
        Digest.parse(h(n)),
        100 + n,
        platform=Platform.parse(platform) if platform else None,
    )


MULTI = Index.build(
    [
        child(0, "linux/amd64"),
        child(1, "linux/arm64"),
        child(2, "linux/arm64/v8"),
        child(3, "linux/arm/v7"),
        child(4, "linux/arm/v6"),
        child(5, "windows/amd64,osversion=10.0.17763.1757"),
        child(6, "windows/amd64,osversion=10.0.20348.2113"),
        child(7, "unknown/unknown"),  # buildx attestation manifest
        child(8, None),
        child(9, "linux/s390x", media_type="application/vnd.example.sbom"),  # not a manifest
        child(10, "linux/amd64"),  # duplicate: first wins
    ]
)


@pytest.mark.parametrize(
    ("wanted", "n"),
    [
        pytest.param("linux/amd64", 0, id="amd64-first-wins"),
        pytest.param("linux/x86_64", 0, id="amd64-alias"),
        pytest.param("linux/arm64", 1, id="arm64-without-variant-exact"),
        pytest.param("linux/arm64/v8", 2, id="arm64-v8-exact"),
        pytest.param("linux/aarch64/v8", 2, id="aarch64-alias"),
        pytest.param("linux/arm", 3, id="arm-defaults-to-v7"),
        pytest.param("linux/arm/v7", 3, id="arm-v7"),
        pytest.param("linux/arm/v6", 4, id="arm-v6"),
        pytest.param("windows/amd64", 5, id="windows-any-osversion-first"),
        pytest.param("windows/amd64,osversion=10.0.20348.2113", 6, id="windows-osversion"),
    ],
)
def test_choose(wanted: str, n: int) -> None:
    got = MULTI.choose(Platform.parse(wanted))
    assert got is MULTI.manifests[n]
    assert got.digest == Digest.parse(h(n))


@pytest.mark.parametrize(
    ("platforms", "wanted", "n"),
    [
        pytest.param(["linux/arm64/v8"], "linux/arm64", 0, id="only-v8-wanted-bare"),
        pytest.param(["linux/arm64"], "linux/arm64/v8", 0, id="only-bare-wanted-v8"),
        pytest.param(["linux/arm64/v8", "linux/arm64"], "linux/arm64", 1, id="bare-beats-v8"),
        pytest.param(["linux/arm64", "linux/arm64/v8"], "linux/arm64/v8", 1, id="v8-beats-bare"),
        pytest.param(["linux/arm/v7", "linux/arm"], "linux/arm", 1, id="arm-bare-exact"),
        pytest.param(["linux/arm", "linux/arm/v7"], "linux/arm/v7", 1, id="arm-v7-exact"),
    ],
)
def test_choose_arm_variants(platforms: list[str], wanted: str, n: int) -> None:
    ix = Index.build([child(i, p) for i, p in enumerate(platforms)])
    assert ix.choose(Platform.parse(wanted)) is ix.manifests[n]


def test_choose_docker_list() -> None:
    ix = parse_manifest(pretty(DOCKER_LIST_OBJ))
    assert isinstance(ix, Index)
    assert ix.choose(Platform.parse("linux/arm")).digest == Digest.parse(h(32))
    assert ix.choose(Platform.parse("linux/amd64")).digest == Digest.parse(h(31))


@pytest.mark.parametrize(
    ("index", "wanted", "present"),
    [
        pytest.param(
            MULTI,
            "linux/s390x",
            (
                "linux/amd64",
                "linux/arm64",
                "linux/arm64/v8",
                "linux/arm/v7",
                "linux/arm/v6",
                "windows/amd64,osversion=10.0.17763.1757",
                "windows/amd64,osversion=10.0.20348.2113",
                "unknown/unknown",
            ),
            id="s390x-lists-unique-manifest-platforms",
        ),
        pytest.param(
            Index.build([child(0, "linux/arm64/v8")]),
            "linux/arm64/v7",
            ("linux/arm64/v8",),
            id="variant-mismatch",
        ),
        pytest.param(
            Index.build([child(0, "linux/arm/v7")]),
            "linux/arm/v6",
            ("linux/arm/v7",),
            id="arm-v6-not-v7",
        ),
        pytest.param(
            Index.build([child(0, "windows/amd64,osversion=10.0.17763.1757")]),
            "windows/amd64,osversion=10.0.20348.2113",
            ("windows/amd64,osversion=10.0.17763.1757",),
            id="osversion-mismatch",
        ),
        pytest.param(Index.build([]), "linux/amd64", (), id="empty-index"),
        pytest.param(Index.build([child(0, None)]), "linux/amd64", (), id="no-platforms"),
        pytest.param(
            Index.build([child(0, "linux/amd64", media_type="application/vnd.example.sbom")]),
            "linux/amd64",
            (),
            id="only-non-manifest-children",
        ),
    ],
)
def test_choose_not_found(index: Index, wanted: str, present: tuple[str, ...]) -> None:
    with pytest.raises(PlatformNotFound) as info:
        index.choose(Platform.parse(wanted))
    exc = info.value
    assert isinstance(exc, NotFound)
    assert not isinstance(exc, ValueError)
    assert exc.present == present
    assert exc.wanted == str(Platform.parse(wanted))
    assert str(exc).startswith(f"no manifest for platform {Platform.parse(wanted)}")
    if present:
        assert str(exc).endswith("platforms present: " + ", ".join(present))
    else:
        assert str(exc).endswith("platforms present: none")


def test_platforms() -> None:
    assert [str(p) for p in MULTI.platforms()] == [
        "linux/amd64",
        "linux/arm64",
        "linux/arm64/v8",
        "linux/arm/v7",
        "linux/arm/v6",
        "windows/amd64,osversion=10.0.17763.1757",
        "windows/amd64,osversion=10.0.20348.2113",
        "unknown/unknown",
        "linux/s390x",
        "linux/amd64",
    ]
    oci = parse_manifest(pretty(OCI_INDEX_OBJ))
    assert isinstance(oci, Index)
    assert oci.platforms() == [Platform("linux", "ppc64le"), Platform("linux", "amd64")]


@settings(max_examples=300, deadline=None)
@given(
    encoded(MANIFESTISH),
    st.none() | MEDIA_TYPES | st.text(max_size=20),
)
def test_fuzz_parse_manifest_only_hoist_errors(raw: bytes, media_type: str | None) -> None:
    """Any bytes under any Content-Type: a manifest whose every part can be used, or one
    HoistError."""
    try:
        m = parse_manifest(raw, media_type)
    except HoistError:
        return
    assert m.raw == raw and m.digest == digest_of(raw)
    assert m.descriptor().size == len(raw)
    for d in m.referenced():
        assert isinstance(d.digest, Digest) and d.size >= 0
    if isinstance(m, Index):
        assert all(isinstance(p, Platform) for p in m.platforms())
