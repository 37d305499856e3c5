"""Registries (OCI distribution-spec v1.1, Docker Registry HTTP API v2) as a store."""

from __future__ import annotations

import hashlib
import io
import json
import logging
import threading
import uuid
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any, cast

from hoist.errors import (
    BlobNotFound,
    DigestMismatch,
    InvalidManifest,
    ManifestNotFound,
    NotFound,
    RegistryError,
    Unsupported,
)
from hoist.model import mediatype as mt
from hoist.model.descriptor import EMPTY_DESCRIPTOR, Descriptor
from hoist.model.digest import CHUNK, Digest, Readable, VerifyingReader, digest_of
from hoist.model.manifest import MAX_MANIFEST_SIZE, ImageManifest, Index, Manifest, parse_manifest
from hoist.model.reference import LayoutReference, Reference
from hoist.store.referrers import fallback_tag, referrer_descriptor
from hoist.store.verified import self_verifying

if TYPE_CHECKING:
    from hoist.transport.http import Transport
    from hoist.transport.response import Response

    Ref = Reference | LayoutReference

__all__ = ["RegistryStore"]

log = logging.getLogger(__name__)

_MANIFEST_NOT_FOUND = {"MANIFEST_UNKNOWN", "NAME_UNKNOWN", "HTTP 404"}
_BLOB_NOT_FOUND = {"BLOB_UNKNOWN", "NAME_UNKNOWN", "HTTP 404"}
_NO_MONOLITHIC = {405, 413, 501}
MAX_PAGES = 10_000
"""Tag or catalog pages followed at most (a registry whose Link never ends is an error)."""
FALLBACK_CHUNK = 8 << 20
"""Chunk size when a registry refuses a single PUT (raised to its OCI-Chunk-Min-Length)."""


def _position(content: Any) -> int | None:
    """Where a seekable body starts (to re-read it), else None."""
    seekable = getattr(content, "seekable", None)
    if callable(seekable) and seekable():
        return int(content.tell())
    return None


def _registry_ref(ref: Ref) -> Reference:
    if not isinstance(ref, Reference):
        raise Unsupported(f"{ref} is not a registry reference")
    return ref


class RegistryStore:
    """Store for registries; thread-safe. Keyword options go to the Transport.

    ``transport`` may be given ready-made; otherwise one is built with Docker's credentials
    (``credentials``) and hoist's per-registry settings (``settings``). ``chunk_size`` forces
    chunked (PATCH) uploads of at least that many bytes per request.
    """

    def __init__(
        self,
        *,
        transport: Transport | None = None,
        chunk_size: int | None = None,
        **transport_options: Any,
    ) -> None:
        if transport is None:
            from hoist.transport.http import Transport

            if "credentials" not in transport_options:
                from hoist.transport.credentials import CredentialStore

                transport_options["credentials"] = CredentialStore()
            if "settings" not in transport_options:
                from hoist.transport.settings import load_config

                transport_options["settings"] = load_config().registry
            transport = Transport(**transport_options)
        self.transport = transport
        self.chunk_size = chunk_size
        self._referrers_api: dict[str, bool] = {}
        self._lock = threading.Lock()

    # -- helpers ---------------------------------------------------------------------------

    @staticmethod
    def _scope(ref: Reference, actions: str = "pull") -> list[str]:
        return [f"repository:{ref.repository}:{actions}"]

    def _path(self, ref: Reference, kind: str, rest: str = "") -> str:
        return f"/v2/{ref.repository}/{kind}/{rest}"

    @staticmethod
    def _not_found(exc: RegistryError, codes: set[str], cls: type[NotFound], what: str) -> None:
        """Raise ``cls`` for a 404; a body-less answer (HEAD) gets the spec's code for it."""
        if exc.status != 404 or not (exc.code in codes or exc.code.startswith("HTTP")):
            return
        if exc.code.startswith("HTTP"):
            text = {
                BlobNotFound: "BLOB_UNKNOWN: blob unknown to registry",
                ManifestNotFound: "MANIFEST_UNKNOWN: manifest unknown",
            }.get(cls, "NAME_UNKNOWN: repository name not known to registry")
        else:
            text = f"{exc.code}: {exc.message or 'not found'}"
        raise cls(f"{text} ({what})") from None

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
            self._not_found(exc, _MANIFEST_NOT_FOUND, ManifestNotFound, str(r))
            raise

    def manifest_get(self, ref: Ref) -> Manifest:
        r = _registry_ref(ref)
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

    def manifest_head(self, ref: Ref) -> Descriptor:
        r = _registry_ref(ref)
        response = self._manifest_request("HEAD", r)
        header = response.headers.get("Docker-Content-Digest")
        size = response.content_length
        media_type = response.headers.get("Content-Type", "")
        if not header or size is None or not mt.is_manifest(media_type):
            return self.manifest_get(r).descriptor()
        return Descriptor(media_type, Digest.parse(header), size)

    def manifest_put(self, ref: Ref, manifest: Manifest) -> Descriptor:
        r = _registry_ref(ref)
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

    def manifest_delete(self, ref: Ref) -> None:
        r = _registry_ref(ref)
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
            self._not_found(exc, _MANIFEST_NOT_FOUND, ManifestNotFound, str(r))
            raise
        if subject is not None and not self._has_referrers_api(r):
            self._fallback_update(r, subject.digest, remove=r.digest)

    # -- blobs -----------------------------------------------------------------------------

    def blob_head(self, ref: Ref, digest: Digest) -> Descriptor:
        r = _registry_ref(ref)
        try:
            response = self.transport.request(
                "HEAD", r.api_host, self._path(r, "blobs", str(digest)), scopes=self._scope(r)
            )
        except RegistryError as exc:
            self._not_found(exc, _BLOB_NOT_FOUND, BlobNotFound, f"{r.name}@{digest}")
            raise
        size = response.content_length
        if size is None:
            raise RegistryError("HTTP 200", "blob HEAD without Content-Length", status=200)
        return Descriptor("application/octet-stream", digest, size)

    def blob_get(self, ref: Ref, digest: Digest, size: int | None = None) -> VerifyingReader:
        r = _registry_ref(ref)
        try:
            return self.transport.open_blob(
                r.api_host, self._path(r, "blobs", str(digest)), digest, size, self._scope(r)
            )
        except RegistryError as exc:
            self._not_found(exc, _BLOB_NOT_FOUND, BlobNotFound, f"{r.name}@{digest}")
            raise

    def blob_put(
        self,
        ref: Ref,
        content: bytes | Readable,
        *,
        digest: Digest | None = None,
        size: int | None = None,
        media_type: str = "application/octet-stream",
    ) -> Descriptor:
        r = _registry_ref(ref)
        if isinstance(content, bytes | bytearray | memoryview):
            data = bytes(content)
            actual = digest_of(data, digest.algorithm if digest else "sha256")
            if (digest is not None and actual != digest) or (
                size is not None and size != len(data)
            ):
                raise DigestMismatch(
                    f"blob is {actual} ({len(data)} bytes), expected {digest} ({size} bytes)",
                    expected=str(digest),
                    actual=str(actual),
                )
            digest, size = actual, len(data)
            content = io.BytesIO(data)
        if digest is not None:
            try:
                found = self.blob_head(r, digest)
                if size is None or found.size == size:
                    return Descriptor(media_type, digest, found.size)
            except BlobNotFound:
                pass
        start = _position(content)
        location, min_chunk = self._upload_start(r)
        try:
            if digest is not None and self.chunk_size is None:
                try:
                    d, n = self._upload_single(r, location, content, digest, size)
                except RegistryError as exc:
                    # Some registries refuse one large PUT: send chunks when we can re-read.
                    if exc.status not in _NO_MONOLITHIC or start is None:
                        raise
                    log.info("%s refused a single PUT (%s); uploading in chunks", r.api_host, exc)
                    self._upload_cancel(r, location)
                    cast(Any, content).seek(start)
                    location, min_chunk = self._upload_start(r)
                    chunk = max(FALLBACK_CHUNK, min_chunk)
                    d, n = self._upload_chunked(r, location, content, digest, size, chunk)
            else:
                chunk = max(self.chunk_size or 0, min_chunk)
                d, n = self._upload_chunked(r, location, content, digest, size, chunk)
        except BaseException:
            self._upload_cancel(r, location)
            raise
        return Descriptor(media_type, d, n)

    def _upload_start(self, r: Reference) -> tuple[str, int]:
        """Open an upload session: its location and the registry's minimum chunk length."""
        response = self.transport.request(
            "POST",
            r.api_host,
            self._path(r, "blobs", "uploads/"),
            scopes=self._scope(r, "pull,push"),
            expect=(202,),
        )
        location = response.location
        if not location:
            raise RegistryError("HTTP 202", "upload session without Location", status=202)
        try:
            min_chunk = int(response.headers.get("OCI-Chunk-Min-Length") or 0)
        except ValueError:
            min_chunk = 0
        return location, min_chunk

    def _upload_cancel(self, r: Reference, location: str) -> None:
        try:
            self.transport.request(
                "DELETE",
                r.api_host,
                location,
                scopes=self._scope(r, "pull,push"),
                expect=(204, 202, 200, 404),
            )
        except Exception as exc:  # the original error matters more
            log.debug("cancelling upload %s failed: %s", location, exc)

    def _upload_single(
        self, r: Reference, location: str, content: Readable, digest: Digest, size: int | None
    ) -> tuple[Digest, int]:
        counter = _Counting(content, digest, size)
        headers = {"Content-Type": "application/octet-stream"}
        if size is not None:
            headers["Content-Length"] = str(size)
        try:
            self.transport.request(
                "PUT",
                r.api_host,
                location,
                query=[("digest", str(digest))],
                headers=headers,
                body=counter if size is not None else counter.chunks(),
                scopes=self._scope(r, "pull,push"),
                expect=(201,),
            )
        except RegistryError as exc:
            if exc.code in ("DIGEST_INVALID", "SIZE_INVALID", "BLOB_UPLOAD_INVALID"):
                counter.verify()  # our content was at fault: say so as a DigestMismatch
            raise
        counter.verify()
        return digest, counter.count

    def _upload_chunked(
        self,
        r: Reference,
        location: str,
        content: Readable,
        digest: Digest | None,
        size: int | None,
        chunk: int,
    ) -> tuple[Digest, int]:
        """PATCH the body (streamed whole, or ``chunk`` bytes per request), then close."""
        counter = _Counting(content, digest, size)
        if chunk <= 0:
            response = self.transport.request(
                "PATCH",
                r.api_host,
                location,
                headers={"Content-Type": "application/octet-stream"},
                body=counter.chunks(),
                scopes=self._scope(r, "pull,push"),
                expect=(202,),
            )
            location = response.location or location
        else:
            offset = 0
            while True:
                piece = counter.read_exact(chunk)
                if not piece:  # an empty blob, or a size that is a multiple of the chunk
                    break
                response = self.transport.request(
                    "PATCH",
                    r.api_host,
                    location,
                    headers={
                        "Content-Type": "application/octet-stream",
                        "Content-Range": f"{offset}-{offset + len(piece) - 1}",
                        "Content-Length": str(len(piece)),
                    },
                    body=piece,
                    scopes=self._scope(r, "pull,push"),
                    expect=(202,),
                )
                location = response.location or location
                offset += len(piece)
                if len(piece) < chunk:
                    break
        final = counter.verify()
        self.transport.request(
            "PUT",
            r.api_host,
            location,
            query=[("digest", str(final))],
            headers={"Content-Length": "0"},
            body=b"",
            scopes=self._scope(r, "pull,push"),
            expect=(201,),
        )
        return final, counter.count

    def blob_mount(self, ref: Ref, source: Ref, digest: Digest) -> bool:
        """Cross-repository mount; False (session cancelled) when the registry answers 202."""
        r, s = _registry_ref(ref), _registry_ref(source)
        if r.api_host != s.api_host:
            return False
        response = self.transport.request(
            "POST",
            r.api_host,
            self._path(r, "blobs", "uploads/"),
            query=[("mount", str(digest)), ("from", s.repository)],
            scopes=[*self._scope(r, "pull,push"), *self._scope(s)],
            expect=(201, 202),
        )
        if response.status == 201:
            return True
        if response.location:
            self._upload_cancel(r, response.location)
        return False

    def blob_delete(self, ref: Ref, digest: Digest) -> None:
        r = _registry_ref(ref)
        try:
            self.transport.request(
                "DELETE",
                r.api_host,
                self._path(r, "blobs", str(digest)),
                scopes=self._scope(r, "pull,push,delete"),
                expect=(202, 200),
            )
        except RegistryError as exc:
            self._not_found(exc, _BLOB_NOT_FOUND, BlobNotFound, f"{r.name}@{digest}")
            raise

    # -- tags, catalog ---------------------------------------------------------------------

    def _paginate(
        self,
        r: Reference,
        path: str,
        key: str,
        scopes: list[str],
        limit: int | None,
        last: str | None,
    ) -> Iterator[str]:
        query: list[tuple[str, str]] = []
        if limit:
            query.append(("n", str(limit)))
        if last:
            query.append(("last", last))
        url: str | None = path
        count = 0
        seen: set[str] = set()
        while url:
            if url in seen or len(seen) >= MAX_PAGES:
                raise RegistryError(
                    "HTTP 200", f"{key} pagination does not end ({len(seen)} pages)", status=200
                )
            seen.add(url)
            try:
                response = self.transport.request(
                    "GET", r.api_host, url, query=query, scopes=scopes
                )
            except RegistryError as exc:
                if key == "tags":
                    self._not_found(exc, _MANIFEST_NOT_FOUND, NotFound, f"repository {r.name}")
                raise
            body = response.read()
            try:
                items = json.loads(body).get(key) or []
            except (ValueError, AttributeError):
                raise RegistryError("HTTP 200", f"malformed {key} list", status=200) from None
            for item in items:
                yield str(item)
                count += 1
                if limit and count >= limit:
                    return
            url = _next_link(response.headers.get("Link"))
            query = []

    def tag_list(self, ref: Ref) -> list[str]:
        r = _registry_ref(ref)
        tags = self._paginate(r, self._path(r, "tags", "list"), "tags", self._scope(r), None, None)
        return sorted(set(tags))

    def tag_list_page(
        self, ref: Ref, *, limit: int | None = None, last: str | None = None
    ) -> list[str]:
        """One page of tags as the registry orders them: ``limit`` after ``last``."""
        r = _registry_ref(ref)
        return list(
            self._paginate(r, self._path(r, "tags", "list"), "tags", self._scope(r), limit, last)
        )

    def repo_list(
        self, ref: Ref, *, limit: int | None = None, last: str | None = None
    ) -> list[str]:
        r = _registry_ref(ref)
        return list(
            self._paginate(r, "/v2/_catalog", "repositories", ["registry:catalog:*"], limit, last)
        )

    def tag_delete(self, ref: Ref) -> None:
        r = _registry_ref(ref)
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

    def referrers_list(self, ref: Ref, *, artifact_type: str | None = None) -> list[Descriptor]:
        r = _registry_ref(ref)
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

    def ratelimit(self, ref: Ref) -> dict[str, str | None]:
        """Docker Hub's ``ratelimit-limit`` and ``ratelimit-remaining`` headers (via HEAD)."""
        response = self._manifest_request("HEAD", _registry_ref(ref))
        return {
            "limit": response.headers.get("ratelimit-limit"),
            "remaining": response.headers.get("ratelimit-remaining"),
            "source": response.headers.get("docker-ratelimit-source"),
        }

    def close(self) -> None:
        self.transport.close()


def _next_link(header: str | None) -> str | None:
    """The target of ``Link: <url>; rel="next"``, if any."""
    if not header:
        return None
    for part in header.split(","):
        target, _, params = part.partition(";")
        if 'rel="next"' in params.replace(" ", "") or "rel=next" in params.replace(" ", ""):
            return target.strip().strip("<>")
    return None


class _Counting:
    """Reads a source once, counting and hashing it; verify() checks what was expected.

    A source that verifies itself for ``digest`` and ``size`` (see
    :func:`hoist.store.verified.self_verifying`) is only counted: it raises on a mismatch itself,
    and hashing its bytes a second time would cost a full pass of the CPU over the blob.
    """

    def __init__(self, source: Readable, digest: Digest | None, size: int | None) -> None:
        self._source = source
        self._digest = digest
        self._size = size
        self._verifier = self_verifying(source, digest, size)
        self._hash = (
            None if self._verifier else hashlib.new(digest.algorithm if digest else "sha256")
        )
        self.count = 0

    def read(self, n: int = -1, /) -> bytes:
        data = self._source.read(CHUNK if n is None or n < 0 else n)
        self.count += len(data)
        if self._size is not None and self.count > self._size:
            raise DigestMismatch(
                f"blob is larger than the expected {self._size} bytes",
                expected=str(self._size),
                actual=f">{self._size}",
            )
        if self._hash is not None:
            self._hash.update(data)
        return data

    def read_exact(self, n: int) -> bytes:
        parts, got = [], 0
        while got < n:
            data = self.read(min(CHUNK, n - got))
            if not data:
                break
            parts.append(data)
            got += len(data)
        return b"".join(parts)

    def chunks(self) -> Iterator[bytes]:
        while data := self.read(CHUNK):
            yield data

    def verify(self) -> Digest:
        if self._verifier is not None and not self._verifier.verified:
            # Not read to its end yet (a body sent by its Content-Length): the end is where
            # the source checks its digest.
            while self.read(CHUNK):
                pass
        if self._size is not None and self.count != self._size:
            raise DigestMismatch(
                f"blob: got {self.count} bytes, expected {self._size}",
                expected=str(self._size),
                actual=str(self.count),
            )
        if self._verifier is not None:
            assert self._verifier.verified and self._digest is not None
            return self._digest
        assert self._hash is not None
        actual = Digest(self._hash.name, self._hash.hexdigest())
        if self._digest is not None and actual != self._digest:
            raise DigestMismatch(
                f"digest mismatch: expected {self._digest}, got {actual}",
                expected=str(self._digest),
                actual=str(actual),
            )
        return actual


class _OneLogin:
    def __init__(self, creds: Any) -> None:
        self._creds = creds

    def get(self, host: str) -> Any:
        return self._creds


def registry_login_check(host: str, credentials: Any, **transport_options: Any) -> None:
    """Verify ``credentials`` against ``host`` (``GET /v2/``); raises AuthError when refused."""
    from hoist.transport.http import Transport

    if "settings" not in transport_options:
        from hoist.transport.settings import load_config

        transport_options["settings"] = load_config().registry
    api_host = Reference(host, "x").api_host
    with Transport(credentials=_OneLogin(credentials), **transport_options) as transport:
        transport.request("GET", api_host, "/v2/", expect=(200,))
