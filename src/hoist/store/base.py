"""The store interface every backend implements, nouns first like the CLI.

A store serves one kind of location (registries, OCI layouts, archives); every method takes the
reference it acts on. Abilities only some backends have are small extra protocols, asked with
``isinstance`` (never ``getattr``):

=================  ============================  ==========================
ability            method                        stores
=================  ============================  ==========================
BlobMounter        ``blob_mount``                registry
BlobReceiver       ``blob_receive``              registry
WriteBatcher       ``write_batch``               OCI layout
Cataloger          ``repo_list``                 registry
TagPager           ``tag_list_page``             registry
RateLimited        ``ratelimit``                 registry
PutChecker         ``manifest_put_check``        OCI layout
GarbageCollector   ``gc``                        OCI layout
Aborter            ``abort``                     archive
=================  ============================  ==========================
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING, Protocol, runtime_checkable

if TYPE_CHECKING:
    from contextlib import AbstractContextManager

    from hoist.model.descriptor import Descriptor
    from hoist.model.digest import Digest, Readable
    from hoist.model.manifest import Manifest
    from hoist.model.reference import ImageRef

__all__ = [
    "Aborter",
    "BlobMounter",
    "BlobReader",
    "BlobReceiver",
    "BlobSource",
    "Cataloger",
    "GarbageCollector",
    "PutChecker",
    "RateLimited",
    "Store",
    "TagPager",
    "WriteBatcher",
]


class BlobReader(Protocol):
    """A blob being read: verified against its digest and size when fully consumed."""

    def read(self, size: int = -1, /) -> bytes: ...
    def __iter__(self) -> Iterator[bytes]: ...
    def close(self) -> None: ...
    def __enter__(self) -> BlobReader: ...
    def __exit__(self, *exc: object) -> None: ...


@runtime_checkable
class Store(Protocol):
    """Manifests, blobs, tags and referrers of one kind of location."""

    def manifest_get(self, ref: ImageRef) -> Manifest:
        """The manifest a tag or digest names, bytes verified against a digest reference."""
        ...

    def manifest_head(self, ref: ImageRef) -> Descriptor:
        """Media type, digest and size of the manifest, without its body where possible."""
        ...

    def manifest_put(self, ref: ImageRef, manifest: Manifest) -> Descriptor:
        """Store the manifest's exact bytes; tag it when ``ref`` has a tag."""
        ...

    def manifest_delete(self, ref: ImageRef) -> None:
        """Delete the manifest ``ref.digest`` names (and so every tag on it)."""
        ...

    def blob_get(self, ref: ImageRef, digest: Digest, size: int | None = None) -> BlobReader:
        """Open a blob for streaming; reading it to the end verifies size and digest."""
        ...

    def blob_head(self, ref: ImageRef, digest: Digest) -> Descriptor:
        """Digest and size of a blob (BlobNotFound when absent)."""
        ...

    def blob_put(
        self,
        ref: ImageRef,
        content: bytes | Readable,
        *,
        digest: Digest | None = None,
        size: int | None = None,
        media_type: str = "application/octet-stream",
    ) -> Descriptor:
        """Store a blob, verified against ``digest``/``size`` when given; skip if present."""
        ...

    def blob_delete(self, ref: ImageRef, digest: Digest) -> None:
        """Delete a blob."""
        ...

    def tag_list(self, ref: ImageRef) -> list[str]:
        """Every tag of the repository or layout, sorted."""
        ...

    def tag_delete(self, ref: ImageRef) -> None:
        """Delete only the tag ``ref.tag``; other tags on the same manifest survive."""
        ...

    def referrers_list(
        self, ref: ImageRef, *, artifact_type: str | None = None
    ) -> list[Descriptor]:
        """Descriptors of the manifests whose ``subject`` is ``ref.digest``."""
        ...

    def close(self) -> None:
        """Release connections and file handles."""
        ...


@runtime_checkable
class BlobMounter(Protocol):
    """Stores that can link a blob from another repository without moving its bytes."""

    def blob_mount(self, ref: ImageRef, source: ImageRef, digest: Digest) -> bool:
        """Mount ``digest`` from ``source`` into ``ref``'s repository; False if not mounted."""
        ...


class BlobSource(Protocol):
    """A blob another store holds, opened on demand: :meth:`start` sends the request for it
    while the receiver gets ready (so the two go out together), :meth:`open` waits for it."""

    def start(self) -> None:
        """Begin opening the blob in the background (idempotent)."""
        ...

    def open(self) -> BlobReader:
        """The blob's reader (verifying, as ``blob_get`` returns it); the caller closes it."""
        ...


@runtime_checkable
class BlobReceiver(Protocol):
    """Stores that take a blob from another store in as few round trips as they can: one
    existence check (none where a mount answers it), the upload session opened while the
    source's bytes are requested."""

    def blob_receive(
        self,
        ref: ImageRef,
        desc: Descriptor,
        source: BlobSource,
        *,
        mount_from: ImageRef | None = None,
        check: bool = True,
    ) -> str:
        """Store ``desc``'s blob in ``ref``'s repository: ``exists`` (already there; not asked
        without ``check``), ``mounted`` (from ``mount_from``, a repository of the same
        registry) or ``copied`` (read from ``source``)."""
        ...


@runtime_checkable
class Cataloger(Protocol):
    """Stores that can list their repositories."""

    def repo_list(
        self, ref: ImageRef, *, limit: int | None = None, last: str | None = None
    ) -> list[str]:
        """Repository names, sorted, ``limit`` at a time after ``last``."""
        ...


@runtime_checkable
class TagPager(Protocol):
    """Stores that list tags a page at a time, in the order the store keeps them."""

    def tag_list_page(
        self, ref: ImageRef, *, limit: int | None = None, last: str | None = None
    ) -> list[str]:
        """One page of tags: ``limit`` after ``last``."""
        ...


@runtime_checkable
class RateLimited(Protocol):
    """Stores that report a pull rate limit (Docker Hub's ``ratelimit-*`` headers)."""

    def ratelimit(self, ref: ImageRef) -> dict[str, str | None]:
        """``limit``, ``remaining`` and ``source`` as the registry reports them (None: absent),
        learnt without counting as a pull."""
        ...


@runtime_checkable
class PutChecker(Protocol):
    """Stores that can tell, before anything is written, that a manifest put would fail
    (an OCI layout whose index.json would cross its size limit)."""

    def manifest_put_check(self, ref: ImageRef, manifest: Manifest) -> None:
        """Raise what ``manifest_put(ref, manifest)`` would raise about the store itself."""
        ...


@runtime_checkable
class WriteBatcher(Protocol):
    """Stores that can make many writes durable at once: within :meth:`write_batch`, blobs and
    manifests land atomically (renamed into place, verified) but are not synced one by one;
    leaving the block syncs them all before it returns, and the tags it wrote (an OCI layout's
    index.json) are published only then."""

    def write_batch(self, ref: ImageRef) -> AbstractContextManager[None]:
        """A block of writes to ``ref``'s layout, synced once at its end."""
        ...


@runtime_checkable
class GarbageCollector(Protocol):
    """Stores that can delete content nothing references."""

    def gc(self, ref: ImageRef, *, dry_run: bool = False) -> list[Digest]:
        """Delete (or with ``dry_run`` only list) unreferenced blobs."""
        ...


@runtime_checkable
class Aborter(Protocol):
    """Stores that can drop what they were writing (an archive half written) instead of
    completing it."""

    def abort(self) -> None:
        """Discard unfinished writes and release the store."""
        ...
