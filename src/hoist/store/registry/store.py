"""Registries (OCI distribution-spec v1.1, Docker Registry HTTP API v2) as a store."""

from __future__ import annotations

import logging
import uuid
from typing import TYPE_CHECKING, Any

from hoist.errors import (
    BlobNotFound,
    DigestMismatch,
    InvalidManifest,
    ManifestNotFound,
    RegistryError,
    Unsupported,
)
from hoist.model import mediatype as mt
from hoist.model.descriptor import EMPTY_DESCRIPTOR, Descriptor
from hoist.model.digest import Digest, VerifyingReader, digest_of
from hoist.model.manifest import MAX_MANIFEST_SIZE, ImageManifest, Index, Manifest, parse_manifest
from hoist.model.reference import ImageRef, Reference
from hoist.store.referrers import fallback_tag, referrer_descriptor
from hoist.store.registry.base import BLOB_NOT_FOUND, MANIFEST_NOT_FOUND, registry_ref
from hoist.store.registry.tags import TagsMixin
from hoist.store.registry.uploads import UploadMixin

if TYPE_CHECKING:
    from hoist.transport.response import Response

__all__ = ["RegistryStore", "registry_login_check"]

log = logging.getLogger(__name__)


class RegistryStore(UploadMixin, TagsMixin):
    """Store for registries; thread-safe. Keyword options go to the Transport.

    ``transport`` may be given ready-made; otherwise one is built with Docker's credentials
    (``credentials``) and hoist's per-registry settings (``settings``). ``chunk_size`` forces
    chunked (PATCH) uploads of at least that many bytes per request. Uploads and mounts live in
    :mod:`hoist.store.registry.uploads`, tag lists and the catalog in
    :mod:`hoist.store.registry.tags`.
    """

    # -- manifests -------------------------------------------------------------------------

    def _manifest_request(self, method: str, r: Reference, *, stream: bool = False) -> Response:
        """GET or HEAD of ``r``'s manifest with every type hoist reads accepted."""
        try:
            return self.transport.request(
                method,
                r.api_host,
                self._path(r, "manifests", r.version_ref),
                headers={"Accept": ", ".join(mt.ACCEPT_MANIFESTS)},
                scopes=self._scope(r),
                stream=stream,
            )
        except RegistryError as exc:
            self._not_found(exc, MANIFEST_NOT_FOUND, ManifestNotFound, str(r))
            raise

    def manifest_get(self, ref: ImageRef) -> Manifest:
        r = registry_ref(ref)
        with self._manifest_request("GET", r, stream=True) as response:
            declared = response.content_length
            if declared is not None and declared > MAX_MANIFEST_SIZE:
                raise InvalidManifest(f"manifest of {declared} bytes is over the 4 MiB limit")
            raw = response.read(MAX_MANIFEST_SIZE + 1)
            media_type = response.headers.get("Content-Type", "")
            header_digest = response.headers.get("Docker-Content-Digest")
        self._check_digest(r, raw, header_digest)
        return parse_manifest(raw, media_type or None)

    @staticmethod
    def _check_digest(ref: Reference, raw: bytes, header: str | None) -> None:
        expected = ref.digest
        if expected is None and header:
            try:
                expected = Digest.parse(header)
            except ValueError:
                return
        if expected is None:
            return
        actual = digest_of(raw, expected.algorithm)
        if actual != expected:
            raise DigestMismatch(
                f"manifest {ref}: expected {expected}, got {actual}",
                expected=str(expected),
                actual=str(actual),
            )

    def manifest_head(self, ref: ImageRef) -> Descriptor:
        r = registry_ref(ref)
        response = self._manifest_request("HEAD", r)
        header = response.headers.get("Docker-Content-Digest")
        size = response.content_length
        media_type = response.headers.get("Content-Type", "")
        if not header or size is None or not mt.is_manifest(media_type):
            return self.manifest_get(r).descriptor()
        return Descriptor(media_type, Digest.parse(header), size)

    def manifest_put(self, ref: ImageRef, manifest: Manifest) -> Descriptor:
        r = registry_ref(ref)
        if not isinstance(manifest, ImageManifest | Index):
            raise Unsupported(f"{manifest.media_type} manifests cannot be pushed")
        if r.digest is not None and r.digest != manifest.digest:
            raise DigestMismatch(
                f"manifest digest {manifest.digest} differs from {r.digest}",
                expected=str(r.digest),
                actual=str(manifest.digest),
            )
        target = r.tag if r.digest is None and r.tag else str(manifest.digest)
        response = self.transport.request(
            "PUT",
            r.api_host,
            self._path(r, "manifests", target),
            headers={"Content-Type": manifest.media_type},
            body=manifest.raw,
            scopes=self._scope(r, "pull,push"),
            expect=(201, 200),
        )
        answered = response.headers.get("Docker-Content-Digest")
        if answered and answered != str(manifest.digest):
            raise DigestMismatch(
                f"{r.api_host} stored {answered} for manifest {manifest.digest}",
                expected=str(manifest.digest),
                actual=answered,
            )
        if manifest.subject is not None and "OCI-Subject" not in response.headers:
            self._fallback_update(r, manifest.subject.digest, add=manifest)
        return manifest.descriptor()

    def manifest_delete(self, ref: ImageRef) -> None:
        r = registry_ref(ref)
        if r.digest is None:
            raise Unsupported("delete a manifest by digest; use tag delete for a tag")
        subject = None
        try:
            m = self.manifest_get(r)
            subject = getattr(m, "subject", None)
        except (InvalidManifest, Unsupported):
            pass
        try:
            self.transport.request(
                "DELETE",
                r.api_host,
                self._path(r, "manifests", str(r.digest)),
                scopes=self._scope(r, "pull,push,delete"),
                expect=(202, 200),
            )
        except RegistryError as exc:
            self._not_found(exc, MANIFEST_NOT_FOUND, ManifestNotFound, str(r))
            raise
        if subject is not None and not self._has_referrers_api(r):
            self._fallback_update(r, subject.digest, remove=r.digest)

    # -- blobs (uploads and mounts: registry_upload.py) -----------------------------------

    def blob_get(self, ref: ImageRef, digest: Digest, size: int | None = None) -> VerifyingReader:
        r = registry_ref(ref)
        try:
            return self.transport.open_blob(
                r.api_host, self._path(r, "blobs", str(digest)), digest, size, self._scope(r)
            )
        except RegistryError as exc:
            self._not_found(exc, BLOB_NOT_FOUND, BlobNotFound, f"{r.name}@{digest}")
            raise

    def blob_delete(self, ref: ImageRef, digest: Digest) -> None:
        r = registry_ref(ref)
        try:
            self.transport.request(
                "DELETE",
                r.api_host,
                self._path(r, "blobs", str(digest)),
                scopes=self._scope(r, "pull,push,delete"),
                expect=(202, 200),
            )
        except RegistryError as exc:
            self._not_found(exc, BLOB_NOT_FOUND, BlobNotFound, f"{r.name}@{digest}")
            raise

    # -- tags (lists and catalog: registry_tags.py) -------------------------------------

    def tag_delete(self, ref: ImageRef) -> None:
        r = registry_ref(ref)
        if r.tag is None:
            raise Unsupported("no tag given to delete")
        r = r.with_tag(r.tag)
        self.manifest_head(r)  # ManifestNotFound for a missing tag
        try:
            self.transport.request(
                "DELETE",
                r.api_host,
                self._path(r, "manifests", r.tag or ""),
                scopes=self._scope(r, "pull,push,delete"),
                expect=(202, 200),
            )
            return
        except RegistryError as exc:
            if exc.status not in (400, 404, 405):
                raise
            log.debug("tag delete unsupported (%s); replacing the tag first", exc)
        # Point the tag at a unique throw-away manifest, then delete that by digest, so the
        # image the tag pointed at (and its other tags) survive.
        self.blob_put(r, EMPTY_DESCRIPTOR.data or b"{}", digest=EMPTY_DESCRIPTOR.digest, size=2)
        throwaway = ImageManifest.build(
            EMPTY_DESCRIPTOR,
            [],
            artifact_type="application/vnd.hoist.tag-delete",
            annotations={
                "org.opencontainers.image.ref.name": r.tag or "",
                "nonce": uuid.uuid4().hex,
            },
        )
        self.manifest_put(r, throwaway)
        self.manifest_delete(r.by_digest(throwaway.digest))

    # -- referrers -------------------------------------------------------------------------

    def _has_referrers_api(self, r: Reference) -> bool:
        with self._lock:
            known = self._referrers_api.get(r.api_host)
        if known is not None:
            return known
        self._referrers_api_list(r, EMPTY_DESCRIPTOR.digest, None)
        with self._lock:
            return self._referrers_api.get(r.api_host, False)

    def _referrers_api_list(
        self, r: Reference, subject: Digest, artifact_type: str | None
    ) -> list[Descriptor] | None:
        query = [("artifactType", artifact_type)] if artifact_type else None
        try:
            response = self.transport.request(
                "GET",
                r.api_host,
                self._path(r, "referrers", str(subject)),
                query=query,
                headers={"Accept": mt.OCI_INDEX},
                scopes=self._scope(r),
                expect=(200, 404),
            )
        except RegistryError as exc:
            if exc.status in (400, 405):
                with self._lock:
                    self._referrers_api[r.api_host] = False
                return None
            raise
        content_type = response.headers.get("Content-Type", "").split(";")[0].strip()
        if response.status == 404 or content_type != mt.OCI_INDEX:
            with self._lock:
                self._referrers_api[r.api_host] = False
            return None
        with self._lock:
            self._referrers_api[r.api_host] = True
        index = parse_manifest(response.read(), mt.OCI_INDEX)
        found = list(getattr(index, "manifests", ()))
        if artifact_type and "artifactType" not in response.headers.get("OCI-Filters-Applied", ""):
            found = [d for d in found if d.artifact_type == artifact_type]
        return found

    def referrers_list(
        self, ref: ImageRef, *, artifact_type: str | None = None
    ) -> list[Descriptor]:
        r = registry_ref(ref)
        if r.digest is None:
            r = r.with_digest(self.manifest_head(r).digest)
        assert r.digest is not None
        found = self._referrers_api_list(r, r.digest, artifact_type)
        if found is None:
            found = list(self._fallback_index(r, r.digest).manifests)
            if artifact_type:
                found = [d for d in found if d.artifact_type == artifact_type]
        return sorted(set(found), key=lambda d: str(d.digest))

    def _fallback_index(self, r: Reference, subject: Digest) -> Index:
        try:
            index = self.manifest_get(r.with_tag(fallback_tag(subject)))
        except ManifestNotFound:
            return Index.build([])
        if not isinstance(index, Index):
            raise InvalidManifest(f"referrers tag {fallback_tag(subject)} is not an index")
        return index

    def _fallback_update(
        self,
        r: Reference,
        subject: Digest,
        *,
        add: ImageManifest | Index | None = None,
        remove: Digest | None = None,
    ) -> None:
        """Keep the ``sha256-<hex>`` referrers index as distribution-spec's fallback says."""
        current = self._fallback_index(r, subject)
        entries = [
            d
            for d in current.manifests
            if d.digest != remove and (add is None or d.digest != add.digest)
        ]
        if add is not None:
            entries.append(referrer_descriptor(add))
        if [d.digest for d in entries] == [d.digest for d in current.manifests]:
            return
        index = Index.build(entries)
        self.manifest_put(r.with_tag(fallback_tag(subject)), index)

    # -- registry extras -------------------------------------------------------------------

    def ratelimit(self, ref: ImageRef) -> dict[str, str | None]:
        """Docker Hub's ``ratelimit-limit`` and ``ratelimit-remaining`` headers (via HEAD)."""
        response = self._manifest_request("HEAD", registry_ref(ref))
        return {
            "limit": response.headers.get("ratelimit-limit"),
            "remaining": response.headers.get("ratelimit-remaining"),
            "source": response.headers.get("docker-ratelimit-source"),
        }

    def close(self) -> None:
        self.transport.close()


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
