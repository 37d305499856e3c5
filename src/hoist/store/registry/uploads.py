"""Blob uploads to a registry: one streamed PUT, chunked PATCHes as fallback, mounts.

Content is read once through :class:`hoist.store.verified.VerifiedContent`, the verifying path
every store's ``blob_put`` shares.
"""

from __future__ import annotations

import io
import logging
from typing import TYPE_CHECKING, Any, cast

from hoist.errors import BlobNotFound, ErrorCode, RegistryError
from hoist.model.descriptor import Descriptor
from hoist.store.registry.blobs import blob_head
from hoist.store.verified import VerifiedContent, verify_bytes

if TYPE_CHECKING:
    from hoist.model.digest import Digest, Readable
    from hoist.model.reference import Reference
    from hoist.store.registry.connection import Connection

__all__ = ["FALLBACK_CHUNK", "blob_mount", "blob_put"]

log = logging.getLogger(__name__)

_NO_MONOLITHIC = {405, 413, 501}
_CONTENT_AT_FAULT = {
    ErrorCode.DIGEST_INVALID,
    ErrorCode.SIZE_INVALID,
    ErrorCode.BLOB_UPLOAD_INVALID,
}
FALLBACK_CHUNK = 8 << 20
"""Chunk size when a registry refuses a single PUT (raised to its OCI-Chunk-Min-Length)."""


def _position(content: Any) -> int | None:
    """Where a seekable body starts (to re-read it), else None."""
    seekable = getattr(content, "seekable", None)
    if callable(seekable) and seekable():
        return int(content.tell())
    return None


def blob_put(
    conn: Connection,
    r: Reference,
    content: bytes | Readable,
    *,
    digest: Digest | None = None,
    size: int | None = None,
    media_type: str = "application/octet-stream",
) -> Descriptor:
    """Upload a blob unless the registry has it: one PUT when the digest is known and no chunk
    size is forced, else PATCHes; the session is cancelled on any failure."""
    if isinstance(content, bytes | bytearray | memoryview):
        data = bytes(content)
        digest, size = verify_bytes(data, digest, size), len(data)
        content = io.BytesIO(data)
    if digest is not None:
        try:
            found = blob_head(conn, r, digest)
            if size is None or found.size == size:
                return Descriptor(media_type, digest, found.size)
        except BlobNotFound:
            pass
    start = _position(content)
    location, min_chunk = _upload_start(conn, r)
    try:
        if digest is not None and conn.chunk_size is None:
            try:
                d, n = _upload_single(conn, r, location, content, digest, size)
            except RegistryError as exc:
                # Some registries refuse one large PUT: send chunks when we can re-read.
                if exc.status not in _NO_MONOLITHIC or start is None:
                    raise
                log.info("%s refused a single PUT (%s); uploading in chunks", r.api_host, exc)
                _upload_cancel(conn, r, location)
                cast(Any, content).seek(start)
                location, min_chunk = _upload_start(conn, r)
                chunk = max(FALLBACK_CHUNK, min_chunk)
                d, n = _upload_chunked(conn, r, location, content, digest, size, chunk)
        else:
            chunk = max(conn.chunk_size or 0, min_chunk)
            d, n = _upload_chunked(conn, r, location, content, digest, size, chunk)
    except BaseException:
        _upload_cancel(conn, r, location)
        raise
    return Descriptor(media_type, d, n)


def _upload_start(conn: Connection, r: Reference) -> tuple[str, int]:
    """Open an upload session: its location and the registry's minimum chunk length."""
    response = conn.transport.request(
        "POST",
        r.api_host,
        conn.path(r, "blobs", "uploads/"),
        scopes=conn.scope(r, "pull,push"),
        expect=(202,),
    )
    location = response.location
    if not location:
        raise RegistryError(None, "upload session without Location", status=202)
    try:
        min_chunk = int(response.headers.get("OCI-Chunk-Min-Length") or 0)
    except ValueError:
        min_chunk = 0
    return location, min_chunk


def _upload_cancel(conn: Connection, r: Reference, location: str) -> None:
    try:
        conn.transport.request(
            "DELETE",
            r.api_host,
            location,
            scopes=conn.scope(r, "pull,push"),
            expect=(204, 202, 200, 404),
        )
    except Exception as exc:  # the original error matters more
        log.debug("cancelling upload %s failed: %s", location, exc)


def _upload_single(
    conn: Connection,
    r: Reference,
    location: str,
    content: Readable,
    digest: Digest,
    size: int | None,
) -> tuple[Digest, int]:
    body = VerifiedContent(content, digest, size)
    headers = {"Content-Type": "application/octet-stream"}
    if size is not None:
        headers["Content-Length"] = str(size)
    try:
        conn.transport.request(
            "PUT",
            r.api_host,
            location,
            query=[("digest", str(digest))],
            headers=headers,
            body=body if size is not None else body.chunks(),
            scopes=conn.scope(r, "pull,push"),
            expect=(201,),
        )
    except RegistryError as exc:
        if exc.code in _CONTENT_AT_FAULT:
            body.finish()  # our content was at fault: say so as a DigestMismatch
        raise
    return body.finish(), body.count


def _upload_chunked(
    conn: Connection,
    r: Reference,
    location: str,
    content: Readable,
    digest: Digest | None,
    size: int | None,
    chunk: int,
) -> tuple[Digest, int]:
    """PATCH the body (streamed whole, or ``chunk`` bytes per request), then close."""
    body = VerifiedContent(content, digest, size)
    if chunk <= 0:
        response = conn.transport.request(
            "PATCH",
            r.api_host,
            location,
            headers={"Content-Type": "application/octet-stream"},
            body=body.chunks(),
            scopes=conn.scope(r, "pull,push"),
            expect=(202,),
        )
        location = response.location or location
    else:
        offset = 0
        while True:
            piece = body.read_exact(chunk)
            if not piece:  # an empty blob, or a size that is a multiple of the chunk
                break
            response = conn.transport.request(
                "PATCH",
                r.api_host,
                location,
                headers={
                    "Content-Type": "application/octet-stream",
                    "Content-Range": f"{offset}-{offset + len(piece) - 1}",
                    "Content-Length": str(len(piece)),
                },
                body=piece,
                scopes=conn.scope(r, "pull,push"),
                expect=(202,),
            )
            location = response.location or location
            offset += len(piece)
            if len(piece) < chunk:
                break
    final = body.finish()
    conn.transport.request(
        "PUT",
        r.api_host,
        location,
        query=[("digest", str(final))],
        headers={"Content-Length": "0"},
        body=b"",
        scopes=conn.scope(r, "pull,push"),
        expect=(201,),
    )
    return final, body.count


def blob_mount(conn: Connection, r: Reference, s: Reference, digest: Digest) -> bool:
    """Cross-repository mount of ``digest`` from ``s`` into ``r``; False (session cancelled)
    when the registry answers 202 or the two are on different registries."""
    if r.api_host != s.api_host:
        return False
    response = conn.transport.request(
        "POST",
        r.api_host,
        conn.path(r, "blobs", "uploads/"),
        query=[("mount", str(digest)), ("from", s.repository)],
        scopes=[*conn.scope(r, "pull,push"), *conn.scope(s)],
        expect=(201, 202),
    )
    if response.status == 201:
        return True
    if response.location:
        _upload_cancel(conn, r, response.location)
    return False
