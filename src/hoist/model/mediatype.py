"""Media types of OCI and Docker schema2 content, and predicates over them."""

from __future__ import annotations

__all__ = [
    "ACCEPT_MANIFESTS",
    "DOCKER_CONFIG",
    "DOCKER_FOREIGN_LAYER",
    "DOCKER_LAYER",
    "DOCKER_MANIFEST",
    "DOCKER_MANIFEST_LIST",
    "DOCKER_SCHEMA1",
    "DOCKER_SCHEMA1_SIGNED",
    "OCI_CONFIG",
    "OCI_EMPTY",
    "OCI_INDEX",
    "OCI_LAYER",
    "OCI_LAYER_GZIP",
    "OCI_LAYER_ND",
    "OCI_LAYER_ND_GZIP",
    "OCI_LAYER_ND_ZSTD",
    "OCI_LAYER_ZSTD",
    "OCI_MANIFEST",
    "compression_of",
    "is_config",
    "is_docker",
    "is_image_manifest",
    "is_index",
    "is_layer",
    "is_manifest",
    "is_nondistributable",
    "is_schema1",
]

OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
OCI_INDEX = "application/vnd.oci.image.index.v1+json"
OCI_CONFIG = "application/vnd.oci.image.config.v1+json"
OCI_EMPTY = "application/vnd.oci.empty.v1+json"
OCI_LAYER = "application/vnd.oci.image.layer.v1.tar"
OCI_LAYER_GZIP = "application/vnd.oci.image.layer.v1.tar+gzip"
OCI_LAYER_ZSTD = "application/vnd.oci.image.layer.v1.tar+zstd"
OCI_LAYER_ND = "application/vnd.oci.image.layer.nondistributable.v1.tar"
OCI_LAYER_ND_GZIP = "application/vnd.oci.image.layer.nondistributable.v1.tar+gzip"
OCI_LAYER_ND_ZSTD = "application/vnd.oci.image.layer.nondistributable.v1.tar+zstd"

DOCKER_MANIFEST = "application/vnd.docker.distribution.manifest.v2+json"
DOCKER_MANIFEST_LIST = "application/vnd.docker.distribution.manifest.list.v2+json"
DOCKER_CONFIG = "application/vnd.docker.container.image.v1+json"
DOCKER_LAYER = "application/vnd.docker.image.rootfs.diff.tar.gzip"
DOCKER_FOREIGN_LAYER = "application/vnd.docker.image.rootfs.foreign.diff.tar.gzip"
DOCKER_SCHEMA1 = "application/vnd.docker.distribution.manifest.v1+json"
DOCKER_SCHEMA1_SIGNED = "application/vnd.docker.distribution.manifest.v1+prettyjws"

_IMAGE_MANIFESTS = frozenset({OCI_MANIFEST, DOCKER_MANIFEST})
_INDEXES = frozenset({OCI_INDEX, DOCKER_MANIFEST_LIST})
_SCHEMA1 = frozenset({DOCKER_SCHEMA1, DOCKER_SCHEMA1_SIGNED})
_CONFIGS = frozenset({OCI_CONFIG, DOCKER_CONFIG})
_LAYERS = frozenset(
    {
        OCI_LAYER,
        OCI_LAYER_GZIP,
        OCI_LAYER_ZSTD,
        OCI_LAYER_ND,
        OCI_LAYER_ND_GZIP,
        OCI_LAYER_ND_ZSTD,
        DOCKER_LAYER,
        DOCKER_FOREIGN_LAYER,
        "application/vnd.docker.image.rootfs.diff.tar",
        "application/vnd.docker.image.rootfs.diff.tar.zstd",
    }
)
_NONDISTRIBUTABLE = frozenset(
    {OCI_LAYER_ND, OCI_LAYER_ND_GZIP, OCI_LAYER_ND_ZSTD, DOCKER_FOREIGN_LAYER}
)

ACCEPT_MANIFESTS: tuple[str, ...] = (
    OCI_INDEX,
    OCI_MANIFEST,
    DOCKER_MANIFEST_LIST,
    DOCKER_MANIFEST,
    DOCKER_SCHEMA1_SIGNED,
    DOCKER_SCHEMA1,
)
"""Every manifest type hoist reads, for the ``Accept`` header."""


def _base(media_type: str) -> str:
    return media_type.split(";", 1)[0].strip().lower()


def is_image_manifest(media_type: str) -> bool:
    """OCI image manifest or Docker schema2 manifest."""
    return _base(media_type) in _IMAGE_MANIFESTS


def is_index(media_type: str) -> bool:
    """OCI index or Docker manifest list."""
    return _base(media_type) in _INDEXES


def is_schema1(media_type: str) -> bool:
    """Docker's deprecated schema1 manifests."""
    return _base(media_type) in _SCHEMA1


def is_manifest(media_type: str) -> bool:
    """Any manifest type hoist recognises, including schema1."""
    return is_image_manifest(media_type) or is_index(media_type) or is_schema1(media_type)


def is_config(media_type: str) -> bool:
    """An image config (OCI or Docker)."""
    return _base(media_type) in _CONFIGS


def is_layer(media_type: str) -> bool:
    """A filesystem layer, any compression, distributable or not."""
    return _base(media_type) in _LAYERS


def is_nondistributable(media_type: str) -> bool:
    """Layers that registries may refuse to store (foreign / non-distributable)."""
    return _base(media_type) in _NONDISTRIBUTABLE


def is_docker(media_type: str) -> bool:
    """A Docker (not OCI) media type."""
    return _base(media_type).startswith("application/vnd.docker.")


def compression_of(media_type: str) -> str:
    """``gzip``, ``zstd`` or ``none`` for a layer media type."""
    base = _base(media_type)
    if base.endswith(("+gzip", ".tar.gzip")):
        return "gzip"
    if base.endswith(("+zstd", ".tar.zstd")):
        return "zstd"
    return "none"
