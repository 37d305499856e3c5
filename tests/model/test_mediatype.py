"""Tests for hoist.model.mediatype."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from hoist.model import mediatype as mt

PREDICATES: dict[str, Callable[[str], bool]] = {
    "image_manifest": mt.is_image_manifest,
    "index": mt.is_index,
    "schema1": mt.is_schema1,
    "manifest": mt.is_manifest,
    "config": mt.is_config,
    "layer": mt.is_layer,
    "nondistributable": mt.is_nondistributable,
    "docker": mt.is_docker,
}

# media type, the predicates that hold (all others must not), compression_of
TABLE = [
    (mt.OCI_MANIFEST, {"image_manifest", "manifest"}, "none"),
    (mt.DOCKER_MANIFEST, {"image_manifest", "manifest", "docker"}, "none"),
    (mt.OCI_INDEX, {"index", "manifest"}, "none"),
    (mt.DOCKER_MANIFEST_LIST, {"index", "manifest", "docker"}, "none"),
    (mt.DOCKER_SCHEMA1, {"schema1", "manifest", "docker"}, "none"),
    (mt.DOCKER_SCHEMA1_SIGNED, {"schema1", "manifest", "docker"}, "none"),
    (mt.OCI_CONFIG, {"config"}, "none"),
    (mt.DOCKER_CONFIG, {"config", "docker"}, "none"),
    (mt.OCI_EMPTY, set(), "none"),
    (mt.OCI_LAYER, {"layer"}, "none"),
    (mt.OCI_LAYER_GZIP, {"layer"}, "gzip"),
    (mt.OCI_LAYER_ZSTD, {"layer"}, "zstd"),
    (mt.OCI_LAYER_ND, {"layer", "nondistributable"}, "none"),
    (mt.OCI_LAYER_ND_GZIP, {"layer", "nondistributable"}, "gzip"),
    (mt.OCI_LAYER_ND_ZSTD, {"layer", "nondistributable"}, "zstd"),
    (mt.DOCKER_LAYER, {"layer", "docker"}, "gzip"),
    (mt.DOCKER_FOREIGN_LAYER, {"layer", "nondistributable", "docker"}, "gzip"),
    ("application/vnd.docker.image.rootfs.diff.tar", {"layer", "docker"}, "none"),
    ("application/vnd.docker.image.rootfs.diff.tar.zstd", {"layer", "docker"}, "zstd"),
    # parameters and case do not matter
    (mt.OCI_MANIFEST + "; charset=utf-8", {"image_manifest", "manifest"}, "none"),
    ("  " + mt.OCI_INDEX.upper() + " ", {"index", "manifest"}, "none"),
    (mt.OCI_LAYER_GZIP + ";q=0.9", {"layer"}, "gzip"),
    ("Application/Vnd.Docker.Image.Rootfs.Diff.Tar.Gzip", {"layer", "docker"}, "gzip"),
    # things hoist does not know
    ("application/json", set(), "none"),
    ("", set(), "none"),
    ("application/vnd.docker.plugin.v1+json", {"docker"}, "none"),
    ("application/vnd.cncf.helm.chart.content.v1.tar+gzip", set(), "gzip"),
    ("application/vnd.oci.image.manifest.v2+json", set(), "none"),
]


@pytest.mark.parametrize(("media_type", "holds", "compression"), TABLE)
def test_predicates(media_type: str, holds: set[str], compression: str) -> None:
    assert holds <= PREDICATES.keys()
    actual = {name for name, predicate in PREDICATES.items() if predicate(media_type)}
    assert actual == holds
    assert mt.compression_of(media_type) == compression


def test_accept_covers_every_manifest_type() -> None:
    assert all(mt.is_manifest(t) for t in mt.ACCEPT_MANIFESTS)
    assert len(set(mt.ACCEPT_MANIFESTS)) == len(mt.ACCEPT_MANIFESTS)
    plain = [t for t, holds, _ in TABLE if "manifest" in holds]
    assert {t for t in plain if t == t.strip().lower() and ";" not in t} == set(mt.ACCEPT_MANIFESTS)
    assert mt.ACCEPT_MANIFESTS[0] == mt.OCI_INDEX


def test_exports() -> None:
    for name in mt.__all__:
        assert hasattr(mt, name)


_KNOWN = [t for t, _, _ in TABLE if t]


@settings(max_examples=300, deadline=None)
@given(
    st.text(max_size=80)
    | st.builds(
        lambda known, params, case: (known + params).upper() if case else known + params,
        st.sampled_from(_KNOWN),
        st.text(max_size=20),
        st.booleans(),
    )
)
def test_fuzz_media_types_only_answer(media_type: str) -> None:
    """Any text from a Content-Type or a descriptor gets an answer: never an exception, and
    the implications between the predicates hold."""
    holds = {name for name, predicate in PREDICATES.items() if predicate(media_type)}
    assert mt.compression_of(media_type) in ("gzip", "zstd", "none")
    if holds & {"image_manifest", "index", "schema1"}:
        assert "manifest" in holds
    if "manifest" in holds:
        assert not holds & {"config", "layer"}
    if "nondistributable" in holds:
        assert "layer" in holds
