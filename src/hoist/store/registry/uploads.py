"""Blob uploads to a registry: one streamed PUT, chunked PATCHes as fallback, mounts."""

from __future__ import annotations

import hashlib
import io
import logging
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any, cast

from hoist.errors import BlobNotFound, DigestMismatch, RegistryError
from hoist.model.descriptor import Descriptor
from hoist.model.digest import CHUNK, Digest, Readable, digest_of
from hoist.store.registry.base import RegistryBase, registry_ref
from hoist.store.verified import self_verifying

if TYPE_CHECKING:
    from hoist.model.reference import ImageRef, Reference

__all__ = ["FALLBACK_CHUNK", "UploadMixin"]

log = logging.getLogger(__name__)

_NO_MONOLITHIC = {405, 413, 501}
FALLBACK_CHUNK = 8 << 20
"""Chunk size when a registry refuses a single PUT (raised to its OCI-Chunk-Min-Length)."""


def _position(content: Any) -> int | None:
    """Where a seekable body starts (to re-read it), else None."""
    seekable = getattr(content, "seekable", None)
    if callable(seekable) and seekable():
        return int(content.tell())
    return None


class UploadMixin(RegistryBase):
    """``blob_put`` and ``blob_mount`` of the registry store."""

    def blob_put(
        self,
        ref: ImageRef,
        content: bytes | Readable,
        *,
        digest: Digest | None = None,
        size: int | None = None,
        media_type: str = "application/octet-stream",
    ) -> Descriptor:
        r = registry_ref(ref)
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

    def blob_mount(self, ref: ImageRef, source: ImageRef, digest: Digest) -> bool:
        """Cross-repository mount; False (session cancelled) when the registry answers 202."""
        r, s = registry_ref(ref), registry_ref(source)
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
