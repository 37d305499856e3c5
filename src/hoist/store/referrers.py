"""Pieces of the referrers model shared by every store."""

from __future__ import annotations

from hoist.model.descriptor import Descriptor
from hoist.model.digest import Digest
from hoist.model.manifest import ImageManifest, Index

__all__ = ["fallback_tag", "referrer_descriptor"]


def fallback_tag(subject: Digest) -> str:
    """The referrers tag schema: ``<alg>-<hex>`` (distribution-spec's fallback)."""
    return f"{subject.algorithm}-{subject.hex}"[:128]


def referrer_descriptor(manifest: ImageManifest | Index) -> Descriptor:
    """The descriptor a referrers list holds for ``manifest``.

    ``artifactType`` is the manifest's own, else (image manifests) its config's media type;
    the manifest's annotations are copied.
    """
    artifact_type = manifest.artifact_type
    if artifact_type is None and isinstance(manifest, ImageManifest):
        artifact_type = manifest.config.media_type
    return manifest.descriptor(artifact_type=artifact_type, annotations=manifest.annotations)
