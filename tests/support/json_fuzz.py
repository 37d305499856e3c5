"""Hypothesis strategies for JSON documents from outside: any JSON, and OCI-shaped objects
whose every field may also be any JSON (descriptors, platforms, manifests, configs)."""

from __future__ import annotations

import json
from typing import Any

from hypothesis import strategies as st

from hoist.model import mediatype as mt

JSON: st.SearchStrategy[Any] = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=8),
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4)
    ),
    max_leaves=12,
)
"""Any JSON value, small."""

DIGESTS = st.sampled_from(["sha256:" + "a" * 64, "sha512:" + "b" * 128, "sha256:x", "md5:00", ""])
MEDIA_TYPES = st.sampled_from(
    [
        mt.OCI_MANIFEST,
        mt.OCI_INDEX,
        mt.DOCKER_MANIFEST,
        mt.DOCKER_MANIFEST_LIST,
        mt.OCI_CONFIG,
        mt.OCI_LAYER_GZIP,
        "application/vnd.docker.distribution.manifest.v1+json",
        "text/plain",
    ]
)

PLATFORMISH = st.fixed_dictionaries(
    {},
    optional={
        "os": st.sampled_from(["linux", "windows", ""]) | JSON,
        "architecture": st.sampled_from(["amd64", "arm64", ""]) | JSON,
        "variant": st.sampled_from(["v8", "v7"]) | JSON,
        "os.version": st.text(max_size=8) | JSON,
        "os.features": st.lists(st.text(max_size=5), max_size=2) | JSON,
    },
)
DESCRIPTORISH = st.fixed_dictionaries(
    {},
    optional={
        "mediaType": MEDIA_TYPES | JSON,
        "digest": DIGESTS | JSON,
        "size": st.integers(min_value=-2, max_value=2**70) | JSON,
        "annotations": st.dictionaries(st.text(max_size=5), st.text(max_size=10) | JSON, max_size=2)
        | JSON,
        "platform": PLATFORMISH | JSON,
        "urls": st.lists(st.text(max_size=10), max_size=2) | JSON,
        "artifactType": MEDIA_TYPES | JSON,
    },
)
MANIFESTISH = st.fixed_dictionaries(
    {},
    optional={
        "schemaVersion": st.sampled_from([2, 1, 3]) | JSON,
        "mediaType": MEDIA_TYPES | JSON,
        "config": DESCRIPTORISH | JSON,
        "layers": st.lists(DESCRIPTORISH, max_size=3) | JSON,
        "manifests": st.lists(DESCRIPTORISH, max_size=3) | JSON,
        "subject": DESCRIPTORISH | JSON,
        "artifactType": MEDIA_TYPES | JSON,
        "annotations": st.dictionaries(st.text(max_size=5), st.text(max_size=10) | JSON, max_size=2)
        | JSON,
    },
)
CONFIGISH = st.fixed_dictionaries(
    {},
    optional={
        "architecture": st.sampled_from(["amd64", "arm64"]) | JSON,
        "os": st.sampled_from(["linux", "windows"]) | JSON,
        "variant": JSON,
        "created": st.sampled_from(["2024-01-02T03:04:05Z", "yesterday", ""]) | JSON,
        "config": st.fixed_dictionaries(
            {},
            optional={
                "Env": st.lists(st.sampled_from(["A=1", "B", "=x"]) | JSON, max_size=3) | JSON,
                "Entrypoint": st.lists(st.text(max_size=5), max_size=2) | JSON,
                "Cmd": st.lists(st.text(max_size=5), max_size=2) | JSON,
                "WorkingDir": st.text(max_size=5) | JSON,
                "User": st.text(max_size=5) | JSON,
                "Labels": st.dictionaries(st.text(max_size=5), st.text(max_size=5), max_size=2)
                | JSON,
                "ExposedPorts": st.dictionaries(st.text(max_size=8), JSON, max_size=2) | JSON,
                "Volumes": JSON,
                "StopSignal": JSON,
            },
        )
        | JSON,
        "rootfs": st.fixed_dictionaries(
            {},
            optional={
                "type": st.just("layers") | JSON,
                "diff_ids": st.lists(DIGESTS | JSON, max_size=3) | JSON,
            },
        )
        | JSON,
        "history": st.lists(
            st.fixed_dictionaries(
                {},
                optional={
                    "created": JSON,
                    "created_by": st.text(max_size=8) | JSON,
                    "empty_layer": st.booleans() | JSON,
                    "comment": JSON,
                },
            )
            | JSON,
            max_size=3,
        )
        | JSON,
    },
)


def encoded(strategy: st.SearchStrategy[Any]) -> st.SearchStrategy[bytes]:
    """``strategy``'s values as JSON bytes, beside arbitrary bytes and any JSON."""
    return (
        st.binary(max_size=200)
        | JSON.map(lambda v: json.dumps(v).encode())
        | strategy.map(lambda v: json.dumps(v).encode())
    )
