"""How big is an image, on every platform? Sizes per platform and in total, compressed (from
the manifests alone) and, on request, unpacked (each layer decompressed once).

A layer shared between platforms (or listed twice) counts once in the totals, so the total
compressed size is what a mirror of every platform stores::

    sizes = image_sizes(client.at("docker.io/library/alpine:3.20"), unpacked=True)
    for p in sizes.platforms:
        print(p.platform, p.compressed, p.unpacked)
    print(sizes.compressed, sizes.unpacked)

Unpacked sizes are the layers' uncompressed tar bytes, which configs do not record: each
distinct layer is streamed once (its digest verified), a few at a time.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from hoist.errors import Unsupported
from hoist.layers.stream import DEFAULT_MAX_BYTES, LayerStream
from hoist.model import mediatype as mt
from hoist.model.manifest import ImageManifest, Index
from hoist.parallel import parallel_map

if TYPE_CHECKING:
    from hoist.location import Location
    from hoist.model.descriptor import Descriptor
    from hoist.model.digest import Digest

__all__ = ["ImageSizes", "PlatformSize", "image_sizes"]

WORKERS = 4
"""Layers decompressed at once for unpacked sizes."""


@dataclass(frozen=True)
class PlatformSize:
    """One image manifest of an index (or the image itself)."""

    platform: str
    """``os/arch[/variant]`` from the index, else the config; ``unknown/unknown`` for
    attestations."""
    digest: Digest
    layers: int
    compressed: int
    """The sum of its layers' sizes, as the manifest gives them."""
    config: int
    """The config blob's size."""
    unpacked: int | None = None
    """The sum of its layers' uncompressed sizes (when asked for)."""
    kind: str = "image"
    """``image``, or ``attestation`` for BuildKit's attestation manifests."""

    def to_dict(self) -> dict[str, Any]:
        return {
            "platform": self.platform,
            "digest": str(self.digest),
            "kind": self.kind,
            "layers": self.layers,
            "compressed": self.compressed,
            "config": self.config,
            "unpacked": self.unpacked,
        }


@dataclass(frozen=True)
class ImageSizes:
    """Every platform's sizes and the totals, each distinct layer counted once."""

    reference: str
    digest: Digest
    media_type: str
    platforms: tuple[PlatformSize, ...]
    layers: int
    """Distinct layers in all."""
    compressed: int
    """Their compressed bytes."""
    shared: int
    """Compressed bytes of layers more than one platform uses (counted once above)."""
    unpacked: int | None = None

    def to_dict(self) -> dict[str, Any]:
        return {
            "reference": self.reference,
            "digest": str(self.digest),
            "mediaType": self.media_type,
            "platforms": [p.to_dict() for p in self.platforms],
            "total": {
                "layers": self.layers,
                "compressed": self.compressed,
                "shared": self.shared,
                "unpacked": self.unpacked,
            },
        }


def _unpacked_size(location: Location, desc: Descriptor, max_bytes: int | None) -> int:
    if not mt.is_layer(desc.media_type):
        return desc.size  # an attestation's JSON, a foreign blob: as it is
    with LayerStream(
        location.blob_get(desc.digest, desc.size),
        desc.media_type,
        name=f"layer {desc.digest}",
        size_hint=desc.size,
        max_bytes=max_bytes,
    ) as stream:
        stream.finish()
        return stream.size


def image_sizes(
    location: Location,
    *,
    unpacked: bool = False,
    workers: int = WORKERS,
    max_bytes: int | None = DEFAULT_MAX_BYTES,
) -> ImageSizes:
    """The sizes of every platform of the image at ``location`` (an index or one image).

    Only manifests are read unless ``unpacked``: then each distinct layer is streamed once,
    ``workers`` at a time, its digest verified. Nested indexes are followed.
    """
    top = location.manifest_get()
    found: list[tuple[str, str, ImageManifest]] = []
    if isinstance(top, ImageManifest):
        found.append(("", "image", top))
    elif isinstance(top, Index):
        todo: list[Descriptor] = list(top.manifests)
        seen = {top.digest}
        while todo:
            desc = todo.pop(0)
            if desc.digest in seen or not mt.is_manifest(desc.media_type):
                continue
            seen.add(desc.digest)
            child = location.by_digest(desc.digest).manifest_get()
            if isinstance(child, Index):
                todo.extend(child.manifests)
            elif isinstance(child, ImageManifest):
                kind = desc.annotations.get("vnd.docker.reference.type") or "image"
                if kind == "attestation-manifest":
                    kind = "attestation"
                found.append((str(desc.platform) if desc.platform else "", kind, child))
    else:
        raise Unsupported(f"{top.media_type} manifests have no layers to size")

    users: dict[Digest, set[Digest]] = {}
    layer_descs: dict[Digest, Descriptor] = {}
    for _, _, manifest in found:
        for layer in manifest.layers:
            users.setdefault(layer.digest, set()).add(manifest.digest)
            layer_descs.setdefault(layer.digest, layer)
    sizes: dict[Digest, int] = {}
    if unpacked:
        distinct = list(layer_descs.values())
        results = parallel_map(
            lambda d: _unpacked_size(location, d, max_bytes), distinct, workers, name="hoist-sizes"
        )
        sizes = {d.digest: n for d, n in zip(distinct, results, strict=True)}

    platforms = []
    for platform, kind, manifest in found:
        if not platform:
            platform = _config_platform(location, manifest) if kind == "image" else "unknown"
        platforms.append(
            PlatformSize(
                platform=platform,
                digest=manifest.digest,
                layers=len(manifest.layers),
                compressed=sum(x.size for x in manifest.layers),
                config=manifest.config.size,
                unpacked=sum(sizes[x.digest] for x in manifest.layers) if unpacked else None,
                kind=kind,
            )
        )
    return ImageSizes(
        reference=str(location),
        digest=top.digest,
        media_type=top.media_type,
        platforms=tuple(platforms),
        layers=len(layer_descs),
        compressed=sum(d.size for d in layer_descs.values()),
        shared=sum(d.size for k, d in layer_descs.items() if len(users[k]) > 1),
        unpacked=sum(sizes.values()) if unpacked else None,
    )


def _config_platform(location: Location, manifest: ImageManifest) -> str:
    """A lone image's platform, from its config (one small read)."""
    from hoist.image import Image

    try:
        return str(Image(location.by_digest(manifest.digest)).config.platform)
    except Unsupported:
        return "unknown"
