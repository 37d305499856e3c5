"""A lazy view of one image in any store: manifest, platform, config, layers.

Nothing is fetched until asked for, and each piece is fetched once.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from functools import cached_property
from typing import TYPE_CHECKING, Any

from hoist.errors import InvalidConfig, Unsupported, UnsupportedMediaType
from hoist.model import mediatype as mt
from hoist.model.config import ImageConfig, parse_config
from hoist.model.manifest import ImageManifest, Index, Manifest
from hoist.model.platform import Platform, local_platform

if TYPE_CHECKING:
    from hoist.location import Location
    from hoist.model.config import History
    from hoist.model.descriptor import Descriptor
    from hoist.model.digest import Digest
    from hoist.model.reference import ImageRef
    from hoist.store.base import BlobReader, Store

__all__ = [
    "MAX_CONFIG_SIZE",
    "Image",
    "ImageInspect",
    "InspectIndex",
    "LayerRow",
    "read_config_bytes",
]

MAX_CONFIG_SIZE = 64 * 1024 * 1024
"""Configs larger than this are refused rather than read into memory."""


class Image:
    """One image at ``location``: an index resolves to ``platform`` (default: the local one)."""

    def __init__(self, location: Location, *, platform: Platform | None = None) -> None:
        self.location = location
        self.requested_platform = platform

    @property
    def store(self) -> Store:
        return self.location.store

    @property
    def ref(self) -> ImageRef:
        return self.location.ref

    def __repr__(self) -> str:
        return f"Image({str(self.location)!r}, platform={self.requested_platform})"

    @cached_property
    def top(self) -> Manifest:
        """The manifest the reference names, as stored (index or image manifest)."""
        return self.location.manifest_get()

    @property
    def index(self) -> Index | None:
        """The index the reference names, or None for a single-platform image."""
        return self.top if isinstance(self.top, Index) else None

    @cached_property
    def platform(self) -> Platform:
        """The platform chosen: the one asked for, else the local one, else the config's."""
        if self.requested_platform is not None:
            return self.requested_platform
        if self.index is not None:
            return local_platform()
        return self.config.platform

    @cached_property
    def manifest(self) -> ImageManifest:
        """The platform's image manifest."""
        top = self.top
        if isinstance(top, ImageManifest):
            return top
        if isinstance(top, Index):
            desc = top.choose(self.platform)
            child = self.location.by_digest(desc.digest).manifest_get()
            if not isinstance(child, ImageManifest):
                raise Unsupported(f"{desc.digest} in the index is not an image manifest")
            return child
        raise UnsupportedMediaType(
            f"{top.media_type} manifests are deprecated and not supported", top.media_type
        )

    @property
    def layers(self) -> tuple[Descriptor, ...]:
        return self.manifest.layers

    @cached_property
    def config(self) -> ImageConfig:
        """The parsed config blob, verified against its descriptor."""
        desc = self.manifest.config
        if not mt.is_config(desc.media_type):
            raise Unsupported(f"{desc.media_type} is not an image config (is this an artifact?)")
        return parse_config(self.config_bytes)

    @cached_property
    def config_bytes(self) -> bytes:
        """The config blob exactly as stored (verified; at most MAX_CONFIG_SIZE bytes)."""
        return read_config_bytes(self.location, self.manifest.config)

    def layer_reader(self, index: int) -> BlobReader:
        """Stream layer ``index`` (compressed, verified when read to the end)."""
        desc = self.layers[index]
        return self.location.blob_get(desc.digest, desc.size)

    def inspect(self) -> ImageInspect:
        """The ``docker image inspect``-like view: ids, platform, config, rootfs, history."""
        cfg = self.config
        raw = cfg.json()
        ref = self.ref
        index = self.index
        return ImageInspect(
            id=cfg.digest,
            digest=self.manifest.digest,
            media_type=self.manifest.media_type,
            repo_tags=(str(ref.with_tag(ref.tag)),) if ref.tag else (),
            repo_digests=(str(ref.by_digest(self.top.digest)),),
            created=cfg.created or None,
            author=cfg.author,
            architecture=cfg.architecture,
            os=cfg.os,
            variant=cfg.variant,
            os_version=cfg.os_version,
            config=raw.get("config") or {},
            diff_ids=cfg.diff_ids,
            history=tuple(raw.get("history") or ()),
            size=sum(d.size for d in self.layers),
            layers=tuple(d.digest for d in self.layers),
            index=None
            if index is None
            else InspectIndex(index.digest, index.media_type, tuple(index.platforms())),
        )

    def layer_rows(self) -> list[LayerRow]:
        """One row per history step: layers with their descriptors, empty steps without.

        A layer the history does not mention gets a row without a step.
        """
        cfg = self.config
        rows = []
        for step, idx in cfg.layer_history():
            layer = diff_id = None
            if idx is not None and idx < len(self.layers):
                layer = self.layers[idx]
                diff_id = cfg.diff_ids[idx] if idx < len(cfg.diff_ids) else None
            rows.append(LayerRow(idx, step, layer, diff_id))
        return rows


@dataclass(frozen=True, slots=True)
class InspectIndex:
    """The index an inspected image was chosen from."""

    digest: Digest
    media_type: str
    platforms: tuple[Platform, ...]

    def to_dict(self) -> dict[str, Any]:
        return {
            "Digest": str(self.digest),
            "MediaType": self.media_type,
            "Platforms": [str(p) for p in self.platforms],
        }


@dataclass(frozen=True, slots=True)
class ImageInspect:
    """What :meth:`Image.inspect` returns: the ``docker image inspect``-like view.

    The attributes are Python names and values; :meth:`to_dict` gives the view with Docker's
    keys (``Id``, ``RepoTags``, ``Config``, ``RootFS``...), as ``docker image inspect`` prints
    them, plus ``Digest``, ``MediaType``, ``Layers`` and (for an index) ``Index``. ``config``
    and ``history`` are the config's own JSON sections, as stored.
    """

    id: Digest
    """The config's digest (Docker's image ID)."""
    digest: Digest
    """The platform manifest's digest."""
    media_type: str
    repo_tags: tuple[str, ...]
    repo_digests: tuple[str, ...]
    created: str | None
    author: str
    architecture: str
    os: str
    variant: str
    os_version: str
    config: Mapping[str, Any]
    """The config's ``config`` section (run-time defaults) with its Docker keys."""
    diff_ids: tuple[Digest, ...]
    history: tuple[Mapping[str, Any], ...]
    size: int
    """The sum of the compressed layer sizes."""
    layers: tuple[Digest, ...]
    index: InspectIndex | None = None

    def to_dict(self) -> dict[str, Any]:
        """The view with Docker's keys, ready for JSON."""
        data: dict[str, Any] = {
            "Id": str(self.id),
            "Digest": str(self.digest),
            "MediaType": self.media_type,
            "RepoTags": list(self.repo_tags),
            "RepoDigests": list(self.repo_digests),
            "Created": self.created,
            "Author": self.author,
            "Architecture": self.architecture,
            "Os": self.os,
        }
        if self.variant:
            data["Variant"] = self.variant
        if self.os_version:
            data["OsVersion"] = self.os_version
        data["Config"] = dict(self.config)
        data["RootFS"] = {"Type": "layers", "Layers": [str(d) for d in self.diff_ids]}
        data["History"] = [dict(h) for h in self.history]
        data["Size"] = self.size
        data["Layers"] = [str(d) for d in self.layers]
        if self.index is not None:
            data["Index"] = self.index.to_dict()
        return data


@dataclass(frozen=True, slots=True)
class LayerRow:
    """One history step of an image, with the layer it made (if any)."""

    index: int | None
    """The layer's position in the manifest; None for a config-only step."""
    step: History | None
    """The history step; None for a layer the history does not mention."""
    layer: Descriptor | None = None
    diff_id: Digest | None = None
    """What the config's rootfs.diff_ids says for the layer."""

    @property
    def created_by(self) -> str | None:
        return self.step.created_by if self.step is not None else None

    @property
    def created(self) -> str | None:
        return (self.step.created or None) if self.step is not None else None

    @property
    def empty_layer(self) -> bool:
        return self.step is not None and self.step.empty_layer

    @property
    def digest(self) -> Digest | None:
        return self.layer.digest if self.layer is not None else None

    @property
    def media_type(self) -> str | None:
        return self.layer.media_type if self.layer is not None else None

    @property
    def size(self) -> int | None:
        return self.layer.size if self.layer is not None else None

    def to_dict(self) -> dict[str, Any]:
        """``index`` and ``created_by``; with a step ``created`` (and ``empty_layer`` when
        true); with a layer ``digest``, ``mediaType``, ``size`` (OCI's spelling) and
        ``diff_id``."""
        row: dict[str, Any] = {"index": self.index, "created_by": self.created_by}
        if self.step is not None:
            row["created"] = self.created
            if self.step.empty_layer:
                row["empty_layer"] = True
        if self.layer is not None:
            row.update(
                digest=str(self.layer.digest),
                mediaType=self.layer.media_type,
                size=self.layer.size,
                diff_id=str(self.diff_id) if self.diff_id else None,
            )
        return row


def read_config_bytes(
    location: Location, desc: Descriptor, *, limit: int = MAX_CONFIG_SIZE
) -> bytes:
    """The config ``desc`` describes, from its embedded data or the blobs at ``location``,
    verified.

    A config declared larger than ``limit`` bytes raises InvalidConfig before anything is read.
    """
    if desc.size > limit:
        raise InvalidConfig(f"config {desc.digest} of {desc.size} bytes is over the limit")
    if desc.data is not None:
        return desc.data
    with location.blob_get(desc.digest, desc.size) as reader:
        return reader.read()
