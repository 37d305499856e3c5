"""Blob uploads to a registry: one streamed PUT, chunked PATCHes as fallback, mounts.

Content is read once through :class:`hoist.store.verified.VerifiedContent`, the verifying path
every store's ``blob_put`` shares. An upload that names its digest is verified by the registry
(the distribution spec obliges it to refuse other content), so hoist does not hash it: it
checks the sizes as the bytes pass and the registry's answer (201, and the digest in
``Docker-Content-Digest`` or ``Location``; a HEAD where the answer names neither), and a
refusal (``DIGEST_INVALID``) is a DigestMismatch.

:func:`blob_receive` is a copy's way in: one existence check (none where a mount answers it:
a refused mount's 202 opens the session the upload then uses), and the source's GET sent while
the session opens.
"""

from __future__ import annotations

import io
import logging
from typing import TYPE_CHECKING, Any, cast
from urllib.parse import unquote

from hoist.errors import BlobNotFound, DigestMismatch, ErrorCode, RegistryError
from hoist.model.descriptor import Descriptor
from hoist.store.registry.blobs import blob_head
from hoist.store.verified import VerifiedContent, verify_bytes

if TYPE_CHECKING:
    from hoist.model.digest import Digest, Readable
    from hoist.model.reference import Reference
    from hoist.store.base import BlobSource
    from hoist.store.registry.connection import Connection
    from hoist.transport.response import Response

__all__ = ["FALLBACK_CHUNK", "blob_mount", "blob_put", "blob_receive"]

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
    return _upload(conn, r, content, digest, size, media_type, None)


def blob_receive(
    conn: Connection,
    r: Reference,
    desc: Descriptor,
    source: BlobSource,
    *,
    mount_from: Reference | None = None,
    check: bool = True,
) -> str:
    """Store ``desc``'s blob from ``source`` in ``r``'s repository: ``mounted`` when a mount
    from ``mount_from`` (same registry) worked, ``exists`` when a HEAD found it (``check``),
    else ``copied``. Each step is one request: a mount's 202 is the session to upload into,
    and the source's GET goes out while a new session opens."""
    session: tuple[str, int] | None = None
    if mount_from is not None and mount_from.api_host == r.api_host:
        session = _mount(conn, r, mount_from, desc.digest)
        if session is None:
            return "mounted"
    elif check:
        try:
            found = blob_head(conn, r, desc.digest)
            if found.size == desc.size:
                return "exists"
        except BlobNotFound:
            pass
    source.start()
    if session is None:
        session = _upload_start(conn, r)
    try:
        reader = source.open()
    except BaseException:
        _upload_cancel(conn, r, session[0])
        raise
    with reader:
        _upload(conn, r, reader, desc.digest, desc.size, desc.media_type, session)
    return "copied"


def _upload(
    conn: Connection,
    r: Reference,
    content: Readable,
    digest: Digest | None,
    size: int | None,
    media_type: str,
    session: tuple[str, int] | None,
) -> Descriptor:
    """Upload ``content`` into ``session`` (opened here when None); cancelled on failure."""
    start = _position(content)
    location, min_chunk = session or _upload_start(conn, r)
    try:
        if digest is not None and conn.chunk_size is None:
            try:
                d, n, answer = _upload_single(conn, r, location, content, digest, size)
            except RegistryError as exc:
                # Some registries refuse one large PUT: send chunks when we can re-read.
                if exc.status not in _NO_MONOLITHIC or start is None:
                    raise
                log.info("%s refused a single PUT (%s); uploading in chunks", r.api_host, exc)
                _upload_cancel(conn, r, location)
                cast(Any, content).seek(start)
                location, min_chunk = _upload_start(conn, r)
                chunk = max(FALLBACK_CHUNK, min_chunk)
                d, n, answer = _upload_chunked(conn, r, location, content, digest, size, chunk)
        else:
            chunk = max(conn.chunk_size or 0, min_chunk)
            d, n, answer = _upload_chunked(conn, r, location, content, digest, size, chunk)
    except BaseException:
        _upload_cancel(conn, r, location)
        raise
    _check_stored(conn, r, answer, d, n)  # the session is closed: nothing to cancel
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
    return _session(response)


def _session(response: Response) -> tuple[str, int]:
    """A 202's upload session: its location and the registry's minimum chunk length."""
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
) -> tuple[Digest, int, Response]:
    body = VerifiedContent(content, digest, size, receiver_verifies=True)
    headers = {"Content-Type": "application/octet-stream"}
    if size is not None:
        headers["Content-Length"] = str(size)
    try:
        response = conn.transport.request(
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
        _refused(r, body, digest, exc)
        raise
    return body.finish(), body.count, response


def _refused(r: Reference, body: VerifiedContent, digest: Digest, exc: RegistryError) -> None:
    """Raise a DigestMismatch when the registry refused an upload because of its content."""
    if exc.code not in _CONTENT_AT_FAULT:
        return
    body.finish()  # sizes (and digests hoist computed): our content was at fault
    if body.handed_over and exc.code == ErrorCode.DIGEST_INVALID:
        raise DigestMismatch(
            f"{r.api_host} refused blob {digest}: its content has another digest ({exc})",
            expected=str(digest),
        ) from exc


def _check_stored(
    conn: Connection, r: Reference, response: Response, digest: Digest, size: int
) -> None:
    """The registry's 201 stored ``digest``: its ``Docker-Content-Digest`` (when sent) is
    ``digest``, and so is the blob its ``Location`` names, else a HEAD finds it."""
    answered = response.headers.get("Docker-Content-Digest")
    if answered and answered.strip() != str(digest):
        raise DigestMismatch(
            f"{r.api_host} stored {answered} for blob {digest}",
            expected=str(digest),
            actual=answered,
        )
    if answered or str(digest) in unquote(response.location or ""):
        return
    found = blob_head(conn, r, digest)  # an answer naming no digest: ask once
    if found.size != size:
        raise DigestMismatch(
            f"{r.api_host} stored {found.size} bytes for blob {digest}, not {size}",
            expected=str(size),
            actual=str(found.size),
        )


def _upload_chunked(
    conn: Connection,
    r: Reference,
    location: str,
    content: Readable,
    digest: Digest | None,
    size: int | None,
    chunk: int,
) -> tuple[Digest, int, Response]:
    """PATCH the body (streamed whole, or ``chunk`` bytes per request), then close."""
    body = VerifiedContent(content, digest, size, receiver_verifies=True)
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
    try:
        response = conn.transport.request(
            "PUT",
            r.api_host,
            location,
            query=[("digest", str(final))],
            headers={"Content-Length": "0"},
            body=b"",
            scopes=conn.scope(r, "pull,push"),
            expect=(201,),
        )
    except RegistryError as exc:
        _refused(r, body, final, exc)
        raise
    return final, body.count, response


def blob_mount(conn: Connection, r: Reference, s: Reference, digest: Digest) -> bool:
    """Cross-repository mount of ``digest`` from ``s`` into ``r``; False (session cancelled)
    when the registry answers 202 or the two are on different registries."""
    if r.api_host != s.api_host:
        return False
    session = _mount(conn, r, s, digest)
    if session is None:
        return True
    _upload_cancel(conn, r, session[0])
    return False


def _mount(conn: Connection, r: Reference, s: Reference, digest: Digest) -> tuple[str, int] | None:
    """Ask to mount ``digest`` from ``s``: None when mounted (201), else the upload session the
    registry opened instead (202)."""
    response = conn.transport.request(
        "POST",
        r.api_host,
        conn.path(r, "blobs", "uploads/"),
        query=[("mount", str(digest)), ("from", s.repository)],
        scopes=[*conn.scope(r, "pull,push"), *conn.scope(s)],
        expect=(201, 202),
    )
    if response.status == 201:
        return None
    return _session(response)
