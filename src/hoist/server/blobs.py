"""Blob endpoints: fetch, check, delete, and the upload sessions that push blobs.

======  =================================  =============================================
GET     /v2/<name>/blobs/<digest>          200 (206 with ``Range``, 416 unsatisfiable)
HEAD    /v2/<name>/blobs/<digest>          200 with Content-Length, Docker-Content-Digest
DELETE  /v2/<name>/blobs/<digest>          202 (unlinks; content goes at gc)
POST    /v2/<name>/blobs/uploads/          202 session; 201 with ``?digest=`` and a body;
                                           ``?mount=&from=``: 201 mounted, else 202
PATCH   /v2/<name>/blobs/uploads/<uuid>    202; 416 for a chunk out of order
PUT     /v2/<name>/blobs/uploads/<uuid>    201 once ``?digest=`` verifies
GET     /v2/<name>/blobs/uploads/<uuid>    204 with Range
DELETE  /v2/<name>/blobs/uploads/<uuid>    204
======  =================================  =============================================
"""

from __future__ import annotations

import asyncio
import logging
import re

from aiohttp import web

from hoist.errors import DigestMismatch, ErrorCode
from hoist.model.digest import Digest, digest_of
from hoist.server.apierror import ApiError
from hoist.server.context import body_chunks, empty, parse_digest, registry, valid_name
from hoist.server.uploads import (
    RangeMismatch,
    SizeMismatch,
    TooManySessions,
    Upload,
    UploadNotFound,
)

__all__ = [
    "blob_delete",
    "blob_get",
    "upload_delete",
    "upload_get",
    "upload_patch",
    "upload_post",
    "upload_put",
]

log = logging.getLogger(__name__)

_CONTENT_RANGE = re.compile(r"(?:bytes[ =])?([0-9]{1,19})-([0-9]{1,19})")
"""At most 19 digits a side: every offset below 2**63, and never a 5000-digit ``int()``."""
_OFFSET_LIMIT = (1 << 63) - 1
_IMMUTABLE = "max-age=31536000"


def _blob_location(name: str, digest: Digest) -> str:
    return f"/v2/{name}/blobs/{digest}"


def _session_headers(name: str, upload: Upload) -> dict[str, str]:
    end = upload.offset - 1 if upload.offset > 0 else 0
    return {
        "Location": f"/v2/{name}/blobs/uploads/{upload.id}",
        "Docker-Upload-UUID": upload.id,
        "Range": f"0-{end}",
    }


def _content_range(request: web.Request) -> tuple[int | None, int | None]:
    """``(start, length)`` from ``Content-Range: start-end`` (None, None when absent)."""
    header = request.headers.get("Content-Range")
    if header is None:
        return None, None
    match = _CONTENT_RANGE.fullmatch(header.strip())
    if (
        match is None
        or int(match.group(2)) < int(match.group(1))
        or int(match.group(2)) > _OFFSET_LIMIT
    ):
        raise ApiError(
            ErrorCode.BLOB_UPLOAD_INVALID,
            f"Content-Range {header!r} is not <start>-<end>",
            status=416,
        )
    start, end = int(match.group(1)), int(match.group(2))
    length = end - start + 1
    if request.content_length is not None and request.content_length != length:
        raise ApiError(
            ErrorCode.SIZE_INVALID,
            f"Content-Range {header} is {length} bytes; Content-Length is {request.content_length}",
        )
    return start, length


# ---------------------------------------------------------------------- blobs


async def blob_get(request: web.Request, name: str, digest: str) -> web.StreamResponse:
    """GET and HEAD of a blob; ranges are served by aiohttp's FileResponse (sendfile).

    A stored file is served only once it is known to match its digest (a stat when it is the
    file hoist stored or last hashed; else it is hashed first, and removed if it does not).
    """
    reg = registry(request)
    valid_name(name)
    d = parse_digest(digest)
    size = await asyncio.to_thread(reg.storage.blob_size, name, d, verify=True)
    if size is None:
        raise ApiError(
            ErrorCode.BLOB_UNKNOWN, f"blob {d} unknown to {name}", detail={"digest": str(d)}
        )
    headers = {
        "Docker-Content-Digest": str(d),
        "Accept-Ranges": "bytes",
        "Cache-Control": _IMMUTABLE,
        "Content-Type": "application/octet-stream",
    }
    if request.method == "HEAD":
        headers["Content-Length"] = str(size)
        return web.Response(status=200, headers=headers)
    return web.FileResponse(reg.storage.blob_path(d), headers=headers)


async def blob_delete(request: web.Request, name: str, digest: str) -> web.StreamResponse:
    """Unlink a blob from the repository (202); the content is removed by gc."""
    reg = registry(request)
    valid_name(name)
    d = parse_digest(digest)
    if not await asyncio.to_thread(reg.storage.unlink_blob, name, d):
        raise ApiError(
            ErrorCode.BLOB_UNKNOWN, f"blob {d} unknown to {name}", detail={"digest": str(d)}
        )
    return empty(202, {"Docker-Content-Digest": str(d)})


# ---------------------------------------------------------------------- uploads


async def upload_post(request: web.Request, name: str) -> web.StreamResponse:
    """Start a session, push monolithically (``?digest=``), or mount (``?mount=&from=``)."""
    reg = registry(request)
    valid_name(name)
    query = request.rel_url.query
    mount = query.get("mount")
    if mount is not None:
        d = parse_digest(mount)
        source = query.get("from")
        if source:
            valid_name(source)
            if await asyncio.to_thread(reg.storage.mount_blob, name, source, d):
                log.debug("mounted %s from %s into %s", d, source, name)
                return empty(
                    201, {"Location": _blob_location(name, d), "Docker-Content-Digest": str(d)}
                )
    elif "digest" in query:
        d = parse_digest(query["digest"])
        if request.body_exists or d == digest_of(b"", d.algorithm):
            with reg.admit(request):
                try:
                    await reg.uploads.monolithic(name, d, body_chunks(request))
                except DigestMismatch as exc:
                    raise ApiError(
                        ErrorCode.DIGEST_INVALID, str(exc), detail={"digest": str(d)}
                    ) from None
            return empty(
                201, {"Location": _blob_location(name, d), "Docker-Content-Digest": str(d)}
            )
    try:
        upload = await reg.uploads.create(name)
    except TooManySessions:
        raise ApiError(
            ErrorCode.TOOMANYREQUESTS,
            f"{reg.uploads.max_sessions} upload sessions are open already; finish or cancel "
            "one, or retry later",
            headers={"Retry-After": "10"},
        ) from None
    headers = _session_headers(name, upload)
    if reg.chunk_min_length:
        headers["OCI-Chunk-Min-Length"] = str(reg.chunk_min_length)
    return empty(202, headers)


async def _session(request: web.Request, name: str, upload_id: str) -> Upload:
    valid_name(name)
    try:
        return await registry(request).uploads.get(name, upload_id)
    except UploadNotFound:
        raise ApiError(
            ErrorCode.BLOB_UPLOAD_UNKNOWN,
            f"no upload {upload_id} in {name}",
            detail={"uuid": upload_id},
        ) from None


async def _append(request: web.Request, name: str, upload: Upload) -> None:
    """Append the request body (caller holds the session lock)."""
    reg = registry(request)
    start, length = _content_range(request)
    try:
        with reg.admit(request):
            await reg.uploads.append(upload, body_chunks(request), start=start, length=length)
    except RangeMismatch as exc:
        raise ApiError(
            ErrorCode.BLOB_UPLOAD_INVALID,
            f"chunk starts at {start}; the upload is at {exc.offset}",
            status=416,
            headers=_session_headers(name, upload),
            detail={"offset": exc.offset},
        ) from None
    except SizeMismatch as exc:
        raise ApiError(ErrorCode.SIZE_INVALID, str(exc)) from None


def _unknown(name: str, upload_id: str) -> ApiError:
    return ApiError(
        ErrorCode.BLOB_UPLOAD_UNKNOWN,
        f"no upload {upload_id} in {name}",
        detail={"uuid": upload_id},
    )


async def upload_patch(request: web.Request, name: str, upload_id: str) -> web.StreamResponse:
    """Append a chunk (``Content-Range``) or a stream (no ``Content-Range``)."""
    upload = await _session(request, name, upload_id)
    async with upload.lock:
        if upload.closed:
            raise _unknown(name, upload_id)
        await _append(request, name, upload)
    return empty(202, _session_headers(name, upload))


async def upload_put(request: web.Request, name: str, upload_id: str) -> web.StreamResponse:
    """Close a session with ``?digest=`` (and an optional last chunk): 201 once verified."""
    reg = registry(request)
    upload = await _session(request, name, upload_id)
    d = parse_digest(request.rel_url.query.get("digest"))
    async with upload.lock:
        if upload.closed:
            raise _unknown(name, upload_id)
        if request.body_exists:
            reg.uploads.use_algorithm(upload, d.algorithm)
            await _append(request, name, upload)
        try:
            await reg.uploads.finish(upload, d)
        except DigestMismatch as exc:
            raise ApiError(ErrorCode.DIGEST_INVALID, str(exc), detail={"digest": str(d)}) from None
    return empty(201, {"Location": _blob_location(name, d), "Docker-Content-Digest": str(d)})


async def upload_get(request: web.Request, name: str, upload_id: str) -> web.StreamResponse:
    """Where a session stands: 204 with ``Range: 0-<last byte>``."""
    upload = await _session(request, name, upload_id)
    return empty(204, _session_headers(name, upload))


async def upload_delete(request: web.Request, name: str, upload_id: str) -> web.StreamResponse:
    """Cancel a session: 204."""
    upload = await _session(request, name, upload_id)
    async with upload.lock:
        if upload.closed:
            raise _unknown(name, upload_id)
        await registry(request).uploads.cancel(upload)
    return empty(204)
