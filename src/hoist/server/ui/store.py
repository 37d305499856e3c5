"""A read-only :class:`~hoist.store.base.Store` over the server's own storage.

It lets the web view use hoist's library as any other store does (:class:`hoist.image.Image`
for the manifest -> config -> layers walk, :func:`hoist.insight.image_tree` for the shared-layer
picture) without going through HTTP. References name the server (``HOST:PORT/repo:tag``); only
their repository, tag and digest are used. Every write raises :class:`Unsupported`: the web view
never writes.
"""

from __future__ import annotations

import contextlib
from typing import TYPE_CHECKING, NoReturn

from hoist.errors import (
    BlobNotFound,
    DigestMismatch,
    InvalidReference,
    ManifestNotFound,
    Unsupported,
)
from hoist.model.descriptor import Descriptor
from hoist.model.digest import VerifyingReader
from hoist.model.manifest import Manifest, parse_manifest
from hoist.model.reference import Reference

if TYPE_CHECKING:
    from hoist.model.digest import Digest, Readable
    from hoist.model.reference import ImageRef
    from hoist.server.storage import Storage

__all__ = ["ServerStore", "server_ref"]

FALLBACK_HOST = "localhost"


def server_ref(
    host: str, name: str, tag: str | None = None, digest: Digest | None = None
) -> Reference:
    """A reference to ``name`` on the server at ``host`` (``localhost`` if ``host`` is not a
    valid registry host, e.g. a Host header of another shape)."""
    with contextlib.suppress(InvalidReference):
        return Reference(host, name, tag, digest)
    return Reference(FALLBACK_HOST, name, tag, digest)


def _repository(ref: ImageRef) -> str:
    if not isinstance(ref, Reference):
        raise Unsupported(f"{ref} is not a reference to this registry")
    return ref.repository


def _read_only() -> NoReturn:
    raise Unsupported("the web view of hoist serve never writes")


class ServerStore:
    """Manifests, blobs, tags and referrers of ``storage``, read as the registry serves them:
    a blob is readable in a repository only when that repository links it."""

    def __init__(self, storage: Storage) -> None:
        self.storage = storage

    def __repr__(self) -> str:
        return f"<ServerStore {self.storage.root}>"

    def _resolve(self, ref: ImageRef) -> tuple[str, Digest]:
        name = _repository(ref)
        if ref.digest is not None:
            return name, ref.digest
        digest = self.storage.resolve(name, ref.tag or "latest")
        if digest is None:
            raise ManifestNotFound(f"tag {ref.tag} not found in {name}")
        return name, digest

    # -- manifests -------------------------------------------------------------------------

    def manifest_get(self, ref: ImageRef) -> Manifest:
        name, digest = self._resolve(ref)
        found = self.storage.read_manifest(name, digest)
        if found is None:
            raise ManifestNotFound(f"manifest {digest} not found in {name}")
        raw, info = found
        manifest = parse_manifest(raw, info.media_type)
        if digest.algorithm == "sha256" and manifest.digest != digest:
            raise DigestMismatch(
                f"stored manifest {digest} hashes to {manifest.digest}",
                expected=str(digest),
                actual=str(manifest.digest),
            )
        return manifest

    def manifest_head(self, ref: ImageRef) -> Descriptor:
        name, digest = self._resolve(ref)
        info = self.storage.manifest_info(name, digest)
        if info is None:
            raise ManifestNotFound(f"manifest {digest} not found in {name}")
        return Descriptor(info.media_type, digest, info.size)

    def manifest_put(self, ref: ImageRef, manifest: Manifest) -> Descriptor:
        _read_only()

    def manifest_delete(self, ref: ImageRef) -> None:
        _read_only()

    # -- blobs -----------------------------------------------------------------------------

    def blob_head(self, ref: ImageRef, digest: Digest) -> Descriptor:
        name = _repository(ref)
        size = self.storage.blob_size(name, digest)
        if size is None:
            raise BlobNotFound(f"blob {digest} not found in {name}")
        return Descriptor("application/octet-stream", digest, size)

    def blob_get(self, ref: ImageRef, digest: Digest, size: int | None = None) -> VerifyingReader:
        name = _repository(ref)
        if self.storage.blob_size(name, digest) is None:
            raise BlobNotFound(f"blob {digest} not found in {name}")
        try:
            f = open(self.storage.blob_path(digest), "rb")  # noqa: SIM115 - the reader closes it
        except FileNotFoundError:
            raise BlobNotFound(f"blob {digest} not found in {name}") from None
        return VerifyingReader(f, digest, size)

    def blob_put(
        self,
        ref: ImageRef,
        content: bytes | Readable,
        *,
        digest: Digest | None = None,
        size: int | None = None,
        media_type: str = "application/octet-stream",
    ) -> Descriptor:
        _read_only()

    def blob_delete(self, ref: ImageRef, digest: Digest) -> None:
        _read_only()

    # -- tags and referrers ----------------------------------------------------------------

    def tag_list(self, ref: ImageRef) -> list[str]:
        return self.storage.tags(_repository(ref)) or []

    def tag_delete(self, ref: ImageRef) -> None:
        _read_only()

    def referrers_list(
        self, ref: ImageRef, *, artifact_type: str | None = None
    ) -> list[Descriptor]:
        if ref.digest is None:
            raise Unsupported("referrers need a digest; resolve the tag first")
        found = []
        for entry in self.storage.referrers(_repository(ref), ref.digest):
            with contextlib.suppress(ValueError):
                desc = Descriptor.from_dict(entry, "referrer")
                if artifact_type is None or desc.artifact_type == artifact_type:
                    found.append(desc)
        return found

    def close(self) -> None:
        """Nothing to release: files are opened per call."""
