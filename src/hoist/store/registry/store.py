"""Registries (OCI distribution-spec v1.1, Docker Registry HTTP API v2) as a store.

:class:`RegistryStore` is the Store protocol over a :class:`~.connection.Connection`; each
operation is a function of the module of its noun: :mod:`.manifests`, :mod:`.blobs`,
:mod:`.uploads`, :mod:`.tags`, :mod:`.referrers`. The store keeps the referrers fallback tag in
step with manifest pushes and deletes.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from hoist.model.manifest import ImageManifest, Index
from hoist.model.reference import ImageRef, Reference
from hoist.store.registry import blobs, manifests, referrers, tags, uploads
from hoist.store.registry.connection import Connection, registry_ref

if TYPE_CHECKING:
    from hoist.model.descriptor import Descriptor
    from hoist.model.digest import Digest, Readable, VerifyingReader
    from hoist.model.manifest import Manifest
    from hoist.store.base import BlobSource
    from hoist.transport.http import Transport

__all__ = ["RegistryStore", "registry_login_check"]


class RegistryStore:
    """Store for registries; thread-safe. Keyword options go to the Transport.

    ``transport`` may be given ready-made; otherwise one is built with Docker's credentials
    (``credentials``) and hoist's per-registry settings (``settings``). ``chunk_size`` forces
    chunked (PATCH) uploads of at least that many bytes per request.

    Beyond the Store protocol it has the abilities :class:`~hoist.store.base.BlobMounter`,
    :class:`~hoist.store.base.BlobReceiver`,
    :class:`~hoist.store.base.Cataloger`, :class:`~hoist.store.base.TagPager` and
    :class:`~hoist.store.base.RateLimited`.
    """

    def __init__(
        self,
        *,
        transport: Transport | None = None,
        chunk_size: int | None = None,
        **transport_options: Any,
    ) -> None:
        self.connection = Connection(
            transport=transport, chunk_size=chunk_size, **transport_options
        )
        """What the noun modules share: transport, scopes, paths, referrers-API memory."""

    @property
    def transport(self) -> Transport:
        """The HTTP transport every request goes through."""
        return self.connection.transport

    @property
    def chunk_size(self) -> int | None:
        return self.connection.chunk_size

    # -- manifests -------------------------------------------------------------------------

    def manifest_get(self, ref: ImageRef) -> Manifest:
        return manifests.manifest_get(self.connection, registry_ref(ref))

    def manifest_head(self, ref: ImageRef) -> Descriptor:
        return manifests.manifest_head(self.connection, registry_ref(ref))

    def manifest_put(self, ref: ImageRef, manifest: Manifest) -> Descriptor:
        r = registry_ref(ref)
        pushed = manifests.manifest_put(self.connection, r, manifest)
        if (
            isinstance(manifest, ImageManifest | Index)  # else manifest_put refused it
            and manifest.subject is not None
            and not pushed.subject_indexed
        ):
            referrers.fallback_update(self.connection, r, manifest.subject.digest, add=manifest)
        return pushed.descriptor

    def manifest_delete(self, ref: ImageRef) -> None:
        r = registry_ref(ref)
        subject = manifests.manifest_delete(self.connection, r)
        if subject is not None and not referrers.has_referrers_api(self.connection, r):
            referrers.fallback_update(self.connection, r, subject.digest, remove=r.digest)

    # -- blobs -----------------------------------------------------------------------------

    def blob_get(self, ref: ImageRef, digest: Digest, size: int | None = None) -> VerifyingReader:
        return blobs.blob_get(self.connection, registry_ref(ref), digest, size)

    def blob_head(self, ref: ImageRef, digest: Digest) -> Descriptor:
        return blobs.blob_head(self.connection, registry_ref(ref), digest)

    def blob_put(
        self,
        ref: ImageRef,
        content: bytes | Readable,
        *,
        digest: Digest | None = None,
        size: int | None = None,
        media_type: str = "application/octet-stream",
    ) -> Descriptor:
        return uploads.blob_put(
            self.connection,
            registry_ref(ref),
            content,
            digest=digest,
            size=size,
            media_type=media_type,
        )

    def blob_receive(
        self,
        ref: ImageRef,
        desc: Descriptor,
        source: BlobSource,
        *,
        mount_from: ImageRef | None = None,
        check: bool = True,
    ) -> str:
        """A copy's upload: one existence check or mount, then the source's bytes (see
        :func:`hoist.store.registry.uploads.blob_receive`)."""
        return uploads.blob_receive(
            self.connection,
            registry_ref(ref),
            desc,
            source,
            mount_from=registry_ref(mount_from) if mount_from is not None else None,
            check=check,
        )

    def blob_mount(self, ref: ImageRef, source: ImageRef, digest: Digest) -> bool:
        """Cross-repository mount; False (session cancelled) when the registry answers 202."""
        return uploads.blob_mount(self.connection, registry_ref(ref), registry_ref(source), digest)

    def blob_delete(self, ref: ImageRef, digest: Digest) -> None:
        blobs.blob_delete(self.connection, registry_ref(ref), digest)

    # -- tags ------------------------------------------------------------------------------

    def tag_list(self, ref: ImageRef) -> list[str]:
        return tags.tag_list(self.connection, registry_ref(ref))

    def tag_list_page(
        self, ref: ImageRef, *, limit: int | None = None, last: str | None = None
    ) -> list[str]:
        """One page of tags as the registry orders them: ``limit`` after ``last``."""
        return tags.tag_list_page(self.connection, registry_ref(ref), limit=limit, last=last)

    def tag_delete(self, ref: ImageRef) -> None:
        tags.tag_delete(self.connection, registry_ref(ref))

    def repo_list(
        self, ref: ImageRef, *, limit: int | None = None, last: str | None = None
    ) -> list[str]:
        return tags.repo_list(self.connection, registry_ref(ref), limit=limit, last=last)

    # -- referrers -------------------------------------------------------------------------

    def referrers_list(
        self, ref: ImageRef, *, artifact_type: str | None = None
    ) -> list[Descriptor]:
        return referrers.referrers_list(
            self.connection, registry_ref(ref), artifact_type=artifact_type
        )

    # -- registry extras -------------------------------------------------------------------

    def ratelimit(self, ref: ImageRef) -> dict[str, str | None]:
        """Docker Hub's ``ratelimit-limit`` and ``ratelimit-remaining`` headers (via HEAD)."""
        response = manifests.manifest_request(self.connection, "HEAD", registry_ref(ref))
        return {
            "limit": response.headers.get("ratelimit-limit"),
            "remaining": response.headers.get("ratelimit-remaining"),
            "source": response.headers.get("docker-ratelimit-source"),
        }

    def close(self) -> None:
        self.connection.close()


class _OneLogin:
    def __init__(self, creds: Any) -> None:
        self._creds = creds

    def get(self, host: str) -> Any:
        return self._creds


def registry_login_check(host: str, credentials: Any, **transport_options: Any) -> None:
    """Verify ``credentials`` against ``host`` (``GET /v2/``); raises AuthError when refused."""
    from hoist.transport.http import Transport

    if "settings" not in transport_options:
        from hoist.config.settings import load_config

        transport_options["settings"] = load_config().registry
    api_host = Reference(host, "x").api_host
    with Transport(credentials=_OneLogin(credentials), **transport_options) as transport:
        transport.request("GET", api_host, "/v2/", expect=(200,))
