"""What one sync run remembers, and the store view that uses it.

A sync reads the same things many times over: the planner reads a manifest, the copy reads it
again; ten tags name one image; twenty repositories share a base layer. :class:`SyncStore`
wraps a store for one run (one per store, so a copy between two repositories of one registry
still sees one store and mounts) and, with the run's :class:`RunMemory`:

- keeps every manifest it read or wrote by repository and digest (content addressed, so never
  stale), so a copy after the plan reads no manifest twice;
- remembers which blobs each repository holds (a HEAD that answered, a push, a mount), and
  which it lacks (a HEAD that did not, a tag its repository's tag list lacks): the copy after a
  plan asks neither again;
- makes a blob that another repository of the same registry holds a mount instead of an
  upload, and has a second copy of a blob being uploaded wait for the first, then mount it:
  each blob crosses the network once per registry, however many repositories share it.
"""

from __future__ import annotations

import contextlib
import logging
import threading
import time
from contextlib import AbstractContextManager
from typing import TYPE_CHECKING

from hoist.errors import BlobNotFound, ManifestNotFound, Unsupported
from hoist.model.reference import LayoutReference
from hoist.store.base import (
    BlobMounter,
    BlobReceiver,
    Cataloger,
    PutChecker,
    RateLimited,
    Store,
    TagPager,
    WriteBatcher,
)

if TYPE_CHECKING:
    from hoist.client import Client
    from hoist.location import Location
    from hoist.model.descriptor import Descriptor
    from hoist.model.digest import Digest, Readable
    from hoist.model.manifest import Manifest
    from hoist.model.reference import ImageRef
    from hoist.store.base import BlobReader, BlobSource

__all__ = ["RunMemory", "SyncStore", "repository_key"]

log = logging.getLogger(__name__)

CLAIM_WAIT = 600.0
"""Seconds a copy waits for another copy's upload of the same blob before uploading it too."""


def repository_key(ref: ImageRef) -> str:
    """The repository (or layout) ``ref`` is in, as text: ``reg:5000/app``, ``ocidir://x``."""
    if isinstance(ref, LayoutReference):
        return f"{ref.scheme}://{ref.path}"
    return ref.name


class RunMemory:
    """Manifests, blob homes and upload claims of one run, shared by its SyncStores;
    thread-safe."""

    def __init__(self) -> None:
        self._lock = threading.Condition()
        self._manifests: dict[tuple[str, Digest], Manifest] = {}
        self._blobs: dict[tuple[str, Digest], Descriptor] = {}
        self._homes: dict[tuple[str, Digest], tuple[ImageRef, Descriptor]] = {}
        self._claims: dict[tuple[str, Digest], int] = {}
        self._views: dict[int, tuple[Store, SyncStore]] = {}
        self._flights: dict[tuple[str, Digest], threading.Lock] = {}
        self._absent_blobs: set[tuple[str, Digest]] = set()
        self._absent_tags: set[str] = set()
        self.mounted = 0
        """Blobs mounted from another repository this run remembered."""
        self.copying = False
        """Set while copies run: only then does a missing blob wait for (or claim) an upload;
        a plan's HEADs only look."""

    def location(self, client: Client, ref: ImageRef) -> Location:
        """``ref`` at ``client``'s store for it, seen through this run's memory (one view per
        store, so two repositories of one registry still share a store)."""
        from hoist.location import Location

        store = client.store(ref)
        with self._lock:
            found = self._views.get(id(store))
            if found is None or found[0] is not store:
                found = (store, SyncStore(store, self))
                self._views[id(store)] = found
        return Location(found[1], ref)

    # -- manifests ---------------------------------------------------------------------------

    def manifest(self, ref: ImageRef, digest: Digest) -> Manifest | None:
        with self._lock:
            return self._manifests.get((repository_key(ref), digest))

    def flight(self, ref: ImageRef, digest: Digest) -> threading.Lock:
        """The lock one read of a manifest holds, so that copies wanting it at once read it
        once."""
        with self._lock:
            return self._flights.setdefault((repository_key(ref), digest), threading.Lock())

    def remember_manifest(self, ref: ImageRef, manifest: Manifest) -> None:
        with self._lock:
            self._manifests[(repository_key(ref), manifest.digest)] = manifest
            if ref.digest is None:
                self._absent_tags.discard(str(ref))

    def absent_tag(self, ref: ImageRef) -> None:
        """``ref`` (a tag) is not there: its repository's tag list lacks it."""
        with self._lock:
            self._absent_tags.add(str(ref))

    def is_absent_tag(self, ref: ImageRef) -> bool:
        with self._lock:
            return ref.digest is None and str(ref) in self._absent_tags

    # -- blobs -------------------------------------------------------------------------------

    def absent_blob(self, ref: ImageRef, digest: Digest) -> None:
        with self._lock:
            self._absent_blobs.add((repository_key(ref), digest))

    def is_absent_blob(self, ref: ImageRef, digest: Digest) -> bool:
        with self._lock:
            return (repository_key(ref), digest) in self._absent_blobs

    def blob(self, ref: ImageRef, digest: Digest) -> Descriptor | None:
        with self._lock:
            return self._blobs.get((repository_key(ref), digest))

    def remember_blob(self, ref: ImageRef, desc: Descriptor) -> None:
        with self._lock:
            self._blobs[(repository_key(ref), desc.digest)] = desc
            self._absent_blobs.discard((repository_key(ref), desc.digest))
            if ref.host is not None:
                self._homes.setdefault((ref.host, desc.digest), (ref.with_tag(None), desc))
                if self._claims.get((ref.host, desc.digest)) is not None:
                    self._claims.pop((ref.host, desc.digest), None)
                self._lock.notify_all()

    def home(
        self, ref: ImageRef, digest: Digest, *, wait: bool
    ) -> tuple[ImageRef, Descriptor] | None:
        """A repository of ``ref``'s registry known to hold ``digest`` (``ref``'s own once a
        copy in flight has put it there); with ``wait``, when a copy is uploading it now, wait
        for that, and otherwise claim the upload for this thread (None: upload it yourself)."""
        host = ref.host
        if host is None:
            return None
        key, me = (host, digest), threading.get_ident()
        own = repository_key(ref)
        deadline = time.monotonic() + CLAIM_WAIT
        with self._lock:
            while True:
                here = self._blobs.get((own, digest))
                if here is not None:
                    return ref.with_tag(None), here
                found = self._homes.get(key)
                if found is not None and repository_key(found[0]) != own:
                    return found
                if not wait or not self.copying:
                    return None
                owner = self._claims.get(key)
                if owner is None or owner == me:
                    self._claims[key] = me
                    return None
                left = deadline - time.monotonic()
                if left <= 0:
                    log.info("%s: waited %.0f s for another upload; uploading", digest, CLAIM_WAIT)
                    return None
                self._lock.wait(min(left, 1.0))

    def release(self, digest: Digest, host: str | None = None) -> None:
        """Drop this thread's claims on ``digest`` (on ``host``, or anywhere)."""
        me = threading.get_ident()
        with self._lock:
            for key in [k for k, v in self._claims.items() if v == me and k[1] == digest]:
                if host is None or key[0] == host:
                    del self._claims[key]
            self._lock.notify_all()

    def count_mount(self) -> None:
        with self._lock:
            self.mounted += 1


class SyncStore:
    """A store seen through a run's :class:`RunMemory` (see the module docstring); every
    operation not remembered goes to ``inner``."""

    def __init__(self, inner: Store, memory: RunMemory) -> None:
        self.inner = inner
        self.memory = memory

    # -- manifests ---------------------------------------------------------------------------

    def manifest_get(self, ref: ImageRef) -> Manifest:
        if ref.digest is not None:
            with self.memory.flight(ref, ref.digest):
                known = self.memory.manifest(ref, ref.digest)
                if known is not None:
                    return known
                manifest = self.inner.manifest_get(ref)
                self.memory.remember_manifest(ref, manifest)
                return manifest
        manifest = self.inner.manifest_get(ref)
        self.memory.remember_manifest(ref, manifest)
        return manifest

    def manifest_head(self, ref: ImageRef) -> Descriptor:
        if self.memory.is_absent_tag(ref):
            raise ManifestNotFound(f"MANIFEST_UNKNOWN: {ref} is not in its tag list")
        if ref.digest is not None:
            known = self.memory.manifest(ref, ref.digest)
            if known is not None:
                return known.descriptor()
        return self.inner.manifest_head(ref)

    def manifest_put(self, ref: ImageRef, manifest: Manifest) -> Descriptor:
        desc = self.inner.manifest_put(ref, manifest)
        self.memory.remember_manifest(ref, manifest)
        return desc

    def manifest_delete(self, ref: ImageRef) -> None:
        self.inner.manifest_delete(ref)

    # -- blobs -------------------------------------------------------------------------------

    def blob_get(self, ref: ImageRef, digest: Digest, size: int | None = None) -> BlobReader:
        try:
            return self.inner.blob_get(ref, digest, size)
        except BaseException:
            self.memory.release(digest)  # the copy that claimed this upload will not make it
            raise

    def blob_head(self, ref: ImageRef, digest: Digest) -> Descriptor:
        known = self.memory.blob(ref, digest)
        if known is not None:
            return known
        try:
            if self.memory.is_absent_blob(ref, digest):  # seen missing this run: not asked again
                raise BlobNotFound(f"BLOB_UNKNOWN: {digest} (not in {repository_key(ref)})")
            desc = self.inner.blob_head(ref, digest)
        except BlobNotFound:
            self.memory.absent_blob(ref, digest)
            mounted = self._mount_known(ref, digest)
            if mounted is None:
                raise
            return mounted
        self.memory.remember_blob(ref, desc)
        return desc

    def _mount_known(self, ref: ImageRef, digest: Digest) -> Descriptor | None:
        """Mount ``digest`` from a repository of the same registry this run saw holding it
        (waiting for an upload of it in flight); None: not possible, upload it."""
        if not isinstance(self.inner, BlobMounter):
            return None
        found = self.memory.home(ref, digest, wait=True)
        if found is None:
            return None
        home, desc = found
        if repository_key(home) == repository_key(ref):
            return desc  # another copy put it here while this one waited
        try:
            mounted = self.inner.blob_mount(ref, home, digest)
        except Exception as exc:  # a refused mount is not an error: the upload follows
            log.info("mounting %s from %s failed: %s", digest, home, exc)
            mounted = False
        if not mounted:
            return None
        self.memory.remember_blob(ref, desc)
        self.memory.count_mount()
        return desc

    def blob_put(
        self,
        ref: ImageRef,
        content: bytes | Readable,
        *,
        digest: Digest | None = None,
        size: int | None = None,
        media_type: str = "application/octet-stream",
    ) -> Descriptor:
        try:
            desc = self.inner.blob_put(
                ref, content, digest=digest, size=size, media_type=media_type
            )
        except BaseException:
            if digest is not None:
                self.memory.release(digest, ref.host)
            raise
        self.memory.remember_blob(ref, desc)
        return desc

    def blob_receive(
        self,
        ref: ImageRef,
        desc: Descriptor,
        source: BlobSource,
        *,
        mount_from: ImageRef | None = None,
        check: bool = True,
    ) -> str:
        """A copy's way in (the BlobReceiver ability): this store's existence check (remembered,
        one HEAD, or a mount from where this run saw the blob), then the inner store's upload
        without a second HEAD."""
        if check:
            try:
                self.blob_head(ref, desc.digest)
                return "exists"
            except BlobNotFound:
                pass
        if not isinstance(self.inner, BlobReceiver):
            with source.open() as reader:
                self.blob_put(
                    ref, reader, digest=desc.digest, size=desc.size, media_type=desc.media_type
                )
            return "copied"
        try:
            how = self.inner.blob_receive(ref, desc, source, mount_from=mount_from, check=False)
        except BaseException:
            self.memory.release(desc.digest, ref.host)
            raise
        self.memory.remember_blob(ref, desc)
        return how

    def write_batch(self, ref: ImageRef) -> AbstractContextManager[None]:
        """The inner store's write batch (the WriteBatcher ability: a layout target syncs once
        per copy); a store without one makes every write durable as it lands."""
        if isinstance(self.inner, WriteBatcher):
            return self.inner.write_batch(ref)
        return contextlib.nullcontext()

    def manifest_put_check(self, ref: ImageRef, manifest: Manifest) -> None:
        """The inner store's check before a copy writes (the PutChecker ability), if it has one."""
        if isinstance(self.inner, PutChecker):
            self.inner.manifest_put_check(ref, manifest)

    def blob_mount(self, ref: ImageRef, source: ImageRef, digest: Digest) -> bool:
        if not isinstance(self.inner, BlobMounter):
            return False
        try:
            mounted = self.inner.blob_mount(ref, source, digest)
        except BaseException:
            self.memory.release(digest, ref.host)
            raise
        if mounted:
            known = self.memory.blob(source, digest)
            if known is not None:
                self.memory.remember_blob(ref, known)
            else:
                self.memory.release(digest, ref.host)
            return True
        return False

    def blob_delete(self, ref: ImageRef, digest: Digest) -> None:
        self.inner.blob_delete(ref, digest)

    # -- tags, referrers, abilities ---------------------------------------------------------------

    def tag_list(self, ref: ImageRef) -> list[str]:
        return self.inner.tag_list(ref)

    def tag_list_page(
        self, ref: ImageRef, *, limit: int | None = None, last: str | None = None
    ) -> list[str]:
        if not isinstance(self.inner, TagPager):
            raise Unsupported(f"{ref} lists tags only whole")
        return self.inner.tag_list_page(ref, limit=limit, last=last)

    def tag_delete(self, ref: ImageRef) -> None:
        self.inner.tag_delete(ref)

    def referrers_list(
        self, ref: ImageRef, *, artifact_type: str | None = None
    ) -> list[Descriptor]:
        return self.inner.referrers_list(ref, artifact_type=artifact_type)

    def repo_list(
        self, ref: ImageRef, *, limit: int | None = None, last: str | None = None
    ) -> list[str]:
        if not isinstance(self.inner, Cataloger):
            raise Unsupported(f"{ref.host or ref} cannot list its repositories")
        return self.inner.repo_list(ref, limit=limit, last=last)

    def ratelimit(self, ref: ImageRef) -> dict[str, str | None]:
        if not isinstance(self.inner, RateLimited):
            return {"limit": None, "remaining": None, "source": None}
        return self.inner.ratelimit(ref)

    def close(self) -> None:
        """The run does not own the store: closing the view leaves it open."""
