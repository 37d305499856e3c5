"""A lazy view of one image in any store: manifest, platform, config, layers.

Nothing is fetched until asked for, and each piece is fetched once.
"""

from __future__ import annotations

from functools import cached_property
from typing import TYPE_CHECKING, Any

from hoist.errors import InvalidConfig, Unsupported, UnsupportedMediaType
from hoist.model import mediatype as mt
from hoist.model.config import ImageConfig, parse_config
from hoist.model.manifest import ImageManifest, Index, Manifest
from hoist.model.platform import Platform, local_platform

if TYPE_CHECKING:
    from hoist.model.descriptor import Descriptor
    from hoist.model.reference import ImageRef
    from hoist.location import Location
    from hoist.store.base import BlobReader, Store

__all__ = ["MAX_CONFIG_SIZE", "Image", "read_config_bytes"]

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
        return self.store.manifest_get(self.ref)

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
            child = self.store.manifest_get(self.ref.by_digest(desc.digest))
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
        return read_config_bytes(self.store, self.ref, self.manifest.config)

    def layer_reader(self, index: int) -> BlobReader:
        """Stream layer ``index`` (compressed, verified when read to the end)."""
        desc = self.layers[index]
        return self.store.blob_get(self.ref, desc.digest, desc.size)

    def inspect(self) -> dict[str, Any]:
        """The ``docker image inspect``-like view: ids, platform, config, rootfs, history."""
        cfg = self.config
        raw = cfg.json()
        ref = self.ref
        data: dict[str, Any] = {
            "Id": str(cfg.digest),
            "Digest": str(self.manifest.digest),
            "MediaType": self.manifest.media_type,
            "RepoTags": [str(ref.with_tag(ref.tag))] if ref.tag else [],
            "RepoDigests": [str(ref.by_digest(self.top.digest))],
            "Created": cfg.created or None,
            "Author": cfg.author,
            "Architecture": cfg.architecture,
            "Os": cfg.os,
        }
        if cfg.variant:
            data["Variant"] = cfg.variant
        if cfg.os_version:
            data["OsVersion"] = cfg.os_version
        data["Config"] = raw.get("config") or {}
        data["RootFS"] = {"Type": "layers", "Layers": [str(d) for d in cfg.diff_ids]}
        data["History"] = raw.get("history") or []
        data["Size"] = sum(d.size for d in self.layers)
        data["Layers"] = [str(d.digest) for d in self.layers]
        if self.index is not None:
            data["Index"] = {
                "Digest": str(self.index.digest),
                "MediaType": self.index.media_type,
                "Platforms": [str(p) for p in self.index.platforms()],
            }
        return data

    def layer_rows(self) -> list[dict[str, Any]]:
        """One entry per history step: layers with their digests, empty steps without.

        Keys: ``index`` (None for a config-only step), ``created_by``, and when known
        ``created``, ``empty_layer``, ``digest``, ``media_type``, ``size``, ``diff_id``.
        """
        cfg = self.config
        rows = []
        for step, idx in cfg.layer_history():
            row: dict[str, Any] = {"index": idx, "created_by": step.created_by if step else None}
            if step is not None:
                row["created"] = step.created or None
                if step.empty_layer:
                    row["empty_layer"] = True
            if idx is not None and idx < len(self.layers):
                desc = self.layers[idx]
                row.update(
                    digest=str(desc.digest),
                    media_type=desc.media_type,
                    size=desc.size,
                    diff_id=str(cfg.diff_ids[idx]) if idx < len(cfg.diff_ids) else None,
                )
            rows.append(row)
        return rows


def read_config_bytes(
    store: Store, ref: ImageRef, desc: Descriptor, *, limit: int = MAX_CONFIG_SIZE
) -> bytes:
    """The config ``desc`` describes, from its embedded data or the store, verified.

    A config declared larger than ``limit`` bytes raises InvalidConfig before anything is
    read; ``ref`` names the repository (or layout) holding the blob.
    """
    if desc.size > limit:
        raise InvalidConfig(f"config {desc.digest} of {desc.size} bytes is over the limit")
    if desc.data is not None:
        return desc.data
    with store.blob_get(ref, desc.digest, desc.size) as reader:
        return reader.read()
