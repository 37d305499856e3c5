"""Where an image lives: a store bound to a reference.

A :class:`Location` is what every verb takes: ``client.at("ocidir://x:v1")`` or
``client.at("ghcr.io/org/app:1")``. It carries the store that serves the reference, so a
verb never receives a loose (store, reference) pair, and it offers the store's operations
bound to its reference::

    loc = client.at("localhost:5000/app:v1")
    manifest = loc.manifest_get()
    pinned = loc.by_digest(manifest.digest)     # same store, same repository
    with loc.blob_get(manifest.config.digest) as reader:
        config = reader.read()

It lives in a module of its own (not in :mod:`hoist.client`) so that verbs can name it without
importing the client.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from hoist.model.reference import ImageRef, LayoutReference, Reference

if TYPE_CHECKING:
    from hoist.model.descriptor import Descriptor
    from hoist.model.digest import Digest, Readable
    from hoist.model.manifest import Manifest
    from hoist.store.base import BlobReader, Store

__all__ = ["Location"]


@dataclass(frozen=True, slots=True)
class Location:
    """A reference and the store that serves it; immutable, compared by value."""

    store: Store
    ref: ImageRef

    def __str__(self) -> str:
        return str(self.ref)

    # -- the reference's parts ---------------------------------------------------------------

    @property
    def tag(self) -> str | None:
        return self.ref.tag

    @property
    def digest(self) -> Digest | None:
        return self.ref.digest

    @property
    def host(self) -> str | None:
        """The registry host, or None for layouts and archives."""
        return self.ref.host

    @property
    def is_registry(self) -> bool:
        return isinstance(self.ref, Reference)

    @property
    def is_layout(self) -> bool:
        return isinstance(self.ref, LayoutReference)

    def by_digest(self, digest: Digest) -> Location:
        """The same repository (or layout) at ``digest`` alone."""
        return Location(self.store, self.ref.by_digest(digest))

    def with_tag(self, tag: str | None) -> Location:
        """The same repository (or layout) at ``tag``; any digest is dropped."""
        return Location(self.store, self.ref.with_tag(tag))

    def with_digest(self, digest: Digest | None) -> Location:
        """The same reference pinned to ``digest``, its tag kept for information."""
        return Location(self.store, self.ref.with_digest(digest))

    def same_repository(self, other: Location) -> bool:
        """Whether ``other`` is the same repository (or layout) in the same store."""
        return self.store is other.store and self.ref.same_repository(other.ref)

    # -- the store's operations, bound to the reference ---------------------------------------

    def manifest_get(self) -> Manifest:
        """The manifest the reference names (verified against a digest reference)."""
        return self.store.manifest_get(self.ref)

    def manifest_head(self) -> Descriptor:
        """Media type, digest and size of the manifest."""
        return self.store.manifest_head(self.ref)

    def manifest_put(self, manifest: Manifest) -> Descriptor:
        """Store ``manifest``'s exact bytes here (tagged when the reference has a tag)."""
        return self.store.manifest_put(self.ref, manifest)

    def manifest_delete(self) -> None:
        """Delete the manifest ``digest`` names (and every tag on it)."""
        self.store.manifest_delete(self.ref)

    def blob_get(self, digest: Digest, size: int | None = None) -> BlobReader:
        """Open a blob of this repository for streaming (verified when read to the end)."""
        return self.store.blob_get(self.ref, digest, size)

    def blob_head(self, digest: Digest) -> Descriptor:
        """Digest and size of a blob of this repository."""
        return self.store.blob_head(self.ref, digest)

    def blob_put(
        self,
        content: bytes | Readable,
        *,
        digest: Digest | None = None,
        size: int | None = None,
        media_type: str = "application/octet-stream",
    ) -> Descriptor:
        """Store a blob in this repository, verified against ``digest``/``size`` when given."""
        return self.store.blob_put(
            self.ref, content, digest=digest, size=size, media_type=media_type
        )

    def blob_delete(self, digest: Digest) -> None:
        self.store.blob_delete(self.ref, digest)

    def tag_list(self) -> list[str]:
        """Every tag of the repository or layout, sorted."""
        return self.store.tag_list(self.ref)

    def tag_delete(self) -> None:
        """Delete only this tag."""
        self.store.tag_delete(self.ref)

    def referrers_list(self, *, artifact_type: str | None = None) -> list[Descriptor]:
        """Descriptors of the manifests whose subject is ``digest``."""
        return self.store.referrers_list(self.ref, artifact_type=artifact_type)
