"""A lazy view of one image in any store: manifest, platform, config, layers.

Nothing is fetched until asked for, and each piece is fetched once.
"""

from __future__ import annotations

from functools import cached_property
from typing import TYPE_CHECKING

from hoist.errors import InvalidConfig, Unsupported, UnsupportedMediaType
from hoist.model import mediatype as mt
from hoist.model.config import ImageConfig, parse_config
from hoist.model.manifest import ImageManifest, Index, Manifest
from hoist.model.platform import Platform, local_platform

if TYPE_CHECKING:
    from hoist.model.descriptor import Descriptor
    from hoist.model.reference import LayoutReference, Reference
    from hoist.store.base import BlobReader, Store

    Ref = Reference | LayoutReference

__all__ = ["MAX_CONFIG_SIZE", "Image"]

MAX_CONFIG_SIZE = 64 * 1024 * 1024
"""Configs larger than this are refused rather than read into memory."""


class Image:
    """One image: ``ref`` may name an index, resolved to ``platform`` (default: local)."""

    def __init__(self, store: Store, ref: Ref, *, platform: Platform | None = None) -> None:
        self.store = store
        self.ref = ref
        self.requested_platform = platform

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
    def digest_ref(self) -> Ref:
        """The reference pinned to the platform manifest's digest."""
        return self.ref.with_digest(self.manifest.digest)

    @property
    def layers(self) -> tuple[Descriptor, ...]:
        return self.manifest.layers

    @cached_property
    def config(self) -> ImageConfig:
        """The parsed config blob, verified against its descriptor."""
        desc = self.manifest.config
        if not mt.is_config(desc.media_type):
            raise Unsupported(f"{desc.media_type} is not an image config (is this an artifact?)")
        if desc.size > MAX_CONFIG_SIZE:
            raise InvalidConfig(f"config of {desc.size} bytes is over the limit")
        return parse_config(self.config_bytes)

    @cached_property
    def config_bytes(self) -> bytes:
        """The config blob exactly as stored (verified)."""
        desc = self.manifest.config
        if desc.data is not None:
            return desc.data
        with self.store.blob_get(self.ref, desc.digest, desc.size) as reader:
            return reader.read()

    def layer_reader(self, index: int) -> BlobReader:
        """Stream layer ``index`` (compressed, verified when read to the end)."""
        desc = self.layers[index]
        return self.store.blob_get(self.ref, desc.digest, desc.size)
