"""Is an image built on the current version of its base? Its base's layers must be a prefix.

Layers are compared by diff_id (the uncompressed digest, from the configs) when both
configs list one per layer, so a recompressed base still counts as the same; otherwise by
the compressed digests in the manifests::

    check = image_check_base(client.image("ocidir://oci:app"), client.image("ocidir://oci:base"))
    print(check.status)                     # up to date / rebuild needed / not built on this base
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from hoist.errors import InvalidInput
from hoist.image import Image
from hoist.location import Location
from hoist.model import mediatype as mt
from hoist.model.base_image import ANNOTATION_BASE_DIGEST, ANNOTATION_BASE_NAME, RecordedBase
from hoist.model.digest import Digest
from hoist.model.manifest import ImageManifest, Index
from hoist.model.reference import parse_reference

__all__ = [
    "ANNOTATION_BASE_DIGEST",
    "ANNOTATION_BASE_NAME",
    "BaseCheck",
    "LayerRef",
    "image_check_base",
    "recorded_base",
]


@dataclass(frozen=True)
class LayerRef:
    """A layer at a position: compressed digest and (when known) diff_id."""

    index: int
    digest: Digest
    diff_id: Digest | None

    def to_dict(self) -> dict[str, Any]:
        return {
            "index": self.index,
            "digest": str(self.digest),
            "diff_id": str(self.diff_id) if self.diff_id else None,
        }


@dataclass
class BaseCheck:
    """The answer to "is IMAGE built on the current BASE?"."""

    image: str
    base: str
    platform: str
    image_digest: Digest
    base_digest: Digest
    up_to_date: bool
    compared_by: str
    """``diff_id`` or ``digest``."""
    shared: list[LayerRef] = field(default_factory=list)
    """The image's layers that are the base's (the common prefix)."""
    base_new: list[LayerRef] = field(default_factory=list)
    """The base's layers after the common prefix: what a rebuild would bring in."""
    image_old: list[LayerRef] = field(default_factory=list)
    """The image's layers at those positions: from the old base (or its own)."""
    base_layers: int = 0
    recorded_base: str | None = None
    """The image's ``org.opencontainers.image.base.digest`` annotation, if any."""
    recorded_base_current: bool | None = None

    @property
    def status(self) -> str:
        if self.up_to_date:
            return "up to date"
        if not self.shared and self.base_layers:
            return "not built on this base"
        return "rebuild needed"

    def to_dict(self) -> dict[str, Any]:
        return {
            "image": self.image,
            "base": self.base,
            "platform": self.platform,
            "image_digest": str(self.image_digest),
            "base_digest": str(self.base_digest),
            "up_to_date": self.up_to_date,
            "status": self.status,
            "compared_by": self.compared_by,
            "base_layers": self.base_layers,
            "shared": [x.to_dict() for x in self.shared],
            "base_new": [x.to_dict() for x in self.base_new],
            "image_old": [x.to_dict() for x in self.image_old],
            "recorded_base": self.recorded_base,
            "recorded_base_current": self.recorded_base_current,
        }


def _layers(img: Image) -> list[LayerRef]:
    diff_ids = img.config.diff_ids
    return [
        LayerRef(i, d.digest, diff_ids[i] if i < len(diff_ids) else None)
        for i, d in enumerate(img.layers)
    ]


def recorded_base(location: Location) -> RecordedBase | None:
    """The base the image at ``location`` records in its annotations (see
    :mod:`hoist.model.base_image`): the manifest's own, else, for an index that records
    none, its first image manifest's. None when nothing is recorded."""
    top = location.manifest_get()
    if not isinstance(top, ImageManifest | Index):
        return None
    found = RecordedBase.from_annotations(top.annotations)
    if found is not None or not isinstance(top, Index):
        return found
    for desc in top.manifests:
        if mt.is_image_manifest(desc.media_type):
            child = location.by_digest(desc.digest).manifest_get()
            if isinstance(child, ImageManifest):
                return RecordedBase.from_annotations(child.annotations)
    return None


def _recorded_base_image(image: Image) -> Image:
    recorded = RecordedBase.from_annotations(image.manifest.annotations)
    if recorded is None or not recorded.name:
        raise InvalidInput(
            f"{image.location} records no base ({ANNOTATION_BASE_NAME}); name the base"
        )
    ref = parse_reference(recorded.name)
    if ref.kind != image.ref.kind:
        raise InvalidInput(
            f"{image.location} records the base {recorded.name}, which is not in a "
            f"{image.ref.kind} store; open it and pass it as the base"
        )
    return Image(Location(image.location.store, ref))


def image_check_base(image: Image, base: Image | None = None) -> BaseCheck:
    """Is ``image`` built on the current ``base``? The base's layers must be its first ones.

    A ``base`` made without a platform is resolved to the platform of ``image`` (so an index
    base is compared by the same platform's manifest); one made with a platform is used as is.
    Without a ``base``, the one the image records (``org.opencontainers.image.base.name``) is
    opened in the image's store; InvalidInput when it records none, or one of another kind
    (a registry base of a layout image: open it and pass it).
    """
    if base is None:
        base = _recorded_base_image(image)
    if base.requested_platform is None:
        base = Image(base.location, platform=image.config.platform)
    mine, theirs = _layers(image), _layers(base)
    by_diff_id = all(x.diff_id for x in mine + theirs)

    def key(x: LayerRef) -> Digest | None:
        return x.diff_id if by_diff_id else x.digest

    n = 0
    while n < min(len(mine), len(theirs)) and key(mine[n]) == key(theirs[n]):
        n += 1
    recorded = image.manifest.annotations.get(ANNOTATION_BASE_DIGEST)
    current = {str(base.top.digest), str(base.manifest.digest)}
    return BaseCheck(
        image=str(image.location),
        base=str(base.location),
        platform=str(image.config.platform),
        image_digest=image.manifest.digest,
        base_digest=base.manifest.digest,
        up_to_date=n == len(theirs),
        compared_by="diff_id" if by_diff_id else "digest",
        shared=mine[:n],
        base_new=theirs[n:],
        image_old=mine[n : len(theirs)],
        base_layers=len(theirs),
        recorded_base=recorded,
        recorded_base_current=(recorded in current) if recorded else None,
    )
