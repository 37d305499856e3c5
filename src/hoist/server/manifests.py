"""Manifest, tag, referrers and catalog endpoints.

======  ==================================  ===========================================
GET     /v2/<name>/manifests/<reference>    200 stored bytes, Content-Type, digest
HEAD    /v2/<name>/manifests/<reference>    200 headers only
PUT     /v2/<name>/manifests/<reference>    201 (+ ``OCI-Subject`` when it has a subject)
DELETE  /v2/<name>/manifests/<digest>       202: manifest, its tags, its referrer entry
DELETE  /v2/<name>/manifests/<tag>          202: the tag only
GET     /v2/<name>/tags/list                200 ``?n=&last=`` with ``Link: ...; rel="next"``
GET     /v2/<name>/referrers/<digest>       200 image index (``?artifactType=`` filter)
GET     /v2/_catalog                        200 ``?n=&last=`` with ``Link``
======  ==================================  ===========================================

Manifests are returned as stored, whatever the ``Accept`` header says (hoist never converts
one manifest type into another).
"""

from __future__ import annotations

import asyncio
import json
import logging
from typing import Any
from urllib.parse import quote, urlencode

from aiohttp import web

from hoist.errors import (
    ErrorCode,
    InvalidDigest,
    InvalidManifest,
    InvalidReference,
    UnsupportedMediaType,
)
from hoist.model import mediatype as mt
from hoist.model.digest import Digest, digest_of
from hoist.model.manifest import ImageManifest, Index, Manifest, parse_manifest
from hoist.server.apierror import ApiError
from hoist.server.context import body_chunks, empty, parse_digest, registry, valid_name
from hoist.server.storage import ManifestInfo, Storage, check_tag
from hoist.store.referrers import referrer_descriptor

__all__ = [
    "catalog",
    "manifest_delete",
    "manifest_get",
    "manifest_put",
    "referrers",
    "tags_list",
]

log = logging.getLogger(__name__)


def _unknown(name: str, reference: str) -> ApiError:
    return ApiError(
        ErrorCode.MANIFEST_UNKNOWN,
        f"manifest {reference} unknown to {name}",
        detail={"name": name, "reference": reference},
    )


def _resolve(storage: Storage, name: str, reference: str) -> Digest | None:
    """The digest ``reference`` names in ``name``; DIGEST_INVALID for a malformed digest."""
    if ":" in reference:
        return parse_digest(reference)
    try:
        return storage.resolve(name, reference)
    except InvalidReference:
        return None


# ---------------------------------------------------------------------- manifests


async def manifest_get(request: web.Request, name: str, reference: str) -> web.StreamResponse:
    """GET and HEAD of a manifest by tag or digest."""
    storage = registry(request).storage
    valid_name(name)
    digest = _resolve(storage, name, reference)
    if digest is None:
        raise _unknown(name, reference)
    found = await asyncio.to_thread(storage.read_manifest, name, digest)
    if found is None:
        raise _unknown(name, reference)
    raw, info = found
    headers = {
        "Content-Type": info.media_type,
        "Docker-Content-Digest": str(digest),
        "ETag": f'"{digest}"',
    }
    if request.method == "HEAD":
        headers["Content-Length"] = str(len(raw))
        return web.Response(status=200, headers=headers)
    return web.Response(status=200, body=raw, headers=headers)


MAX_ERRORS = 100
"""Unknown blobs listed in one MANIFEST_BLOB_UNKNOWN answer, at most."""
PARSE_INLINE = 64 << 10
"""Manifests up to this size are parsed on the event loop; larger ones (up to 4 MiB, about
150 ms of parsing) in a thread, one at a time."""


async def _read_manifest_body(request: web.Request) -> bytes:
    limit = registry(request).max_manifest_size
    too_big = ApiError(
        ErrorCode.MANIFEST_INVALID,
        f"manifest is over the {limit}-byte limit",
        status=413,
        detail={"limit": limit},
    )
    if request.content_length is not None and request.content_length > limit:
        raise too_big
    parts: list[bytes] = []
    size = 0
    async for chunk in body_chunks(request):
        size += len(chunk)
        if size > limit:
            raise too_big
        parts.append(chunk)
    return b"".join(parts)


def _validate(
    raw: bytes, content_type: str | None, wanted: Digest | None
) -> tuple[ImageManifest | Index, Digest]:
    """The parsed manifest and its digest (the algorithm of ``wanted``, if given)."""
    try:
        manifest = parse_manifest(raw, content_type)
    except (InvalidManifest, UnsupportedMediaType, InvalidDigest) as exc:
        raise ApiError(ErrorCode.MANIFEST_INVALID, str(exc)) from None
    if not isinstance(manifest, ImageManifest | Index):
        raise ApiError(ErrorCode.MANIFEST_INVALID, "Docker schema1 manifests are not accepted")
    digest = digest_of(raw, wanted.algorithm) if wanted is not None else manifest.digest
    if wanted is not None and digest != wanted:
        raise ApiError(
            ErrorCode.DIGEST_INVALID,
            f"manifest hashes to {digest}, not {wanted}",
            detail={"digest": str(wanted)},
        )
    return manifest, digest


def _missing(storage: Storage, name: str, manifest: Manifest) -> list[tuple[ErrorCode, str, Any]]:
    """MANIFEST_BLOB_UNKNOWN errors for what ``manifest`` references and ``name`` lacks."""
    errors: list[tuple[ErrorCode, str, Any]] = []
    if isinstance(manifest, ImageManifest):
        for d in manifest.referenced():
            if d.urls and mt.is_nondistributable(d.media_type):
                continue  # foreign layers live elsewhere by design
            size = storage.blob_size(name, d.digest, verify=True)
            if size is None:
                errors.append(
                    (
                        ErrorCode.MANIFEST_BLOB_UNKNOWN,
                        f"blob {d.digest} unknown to {name}",
                        {"digest": str(d.digest)},
                    )
                )
            elif size != d.size:
                raise ApiError(
                    ErrorCode.MANIFEST_INVALID,
                    f"descriptor of {d.digest} says {d.size} bytes; the blob has {size}",
                    detail={"digest": str(d.digest)},
                )
    elif isinstance(manifest, Index):
        for d in manifest.manifests:
            if storage.manifest_info(name, d.digest) is not None:
                continue
            if (
                not mt.is_manifest(d.media_type)
                and storage.blob_size(name, d.digest, verify=True) is not None
            ):
                continue
            errors.append(
                (
                    ErrorCode.MANIFEST_BLOB_UNKNOWN,
                    f"manifest {d.digest} unknown to {name}",
                    {"digest": str(d.digest)},
                )
            )
    return errors


def _referrer(manifest: ImageManifest | Index, digest: Digest, size: int) -> dict[str, Any]:
    """The descriptor the referrers API lists for ``manifest`` (pushed under ``digest``,
    which may be a sha512 one)."""
    return referrer_descriptor(manifest).replace(digest=digest, size=size).to_dict()


async def manifest_put(request: web.Request, name: str, reference: str) -> web.StreamResponse:
    """Validate and store a manifest by tag or digest: 201."""
    storage = registry(request).storage
    valid_name(name)
    tag: str | None = None
    wanted: Digest | None = None
    if ":" in reference:
        wanted = parse_digest(reference)
    else:
        try:
            check_tag(reference)
        except InvalidReference as exc:
            raise ApiError(
                ErrorCode.MANIFEST_INVALID, str(exc), detail={"tag": reference}
            ) from None
        tag = reference
    raw = await _read_manifest_body(request)
    content_type = request.headers.get("Content-Type")
    if len(raw) <= PARSE_INLINE:
        manifest, digest = _validate(raw, content_type, wanted)
        errors = await asyncio.to_thread(_missing, storage, name, manifest)
    else:  # one large manifest at a time, so its threads leave the event loop its GIL share
        async with registry(request).parsing:
            manifest, digest = await asyncio.to_thread(_validate, raw, content_type, wanted)
            errors = await asyncio.to_thread(_missing, storage, name, manifest)
    if errors:
        code, message, detail = errors[0]
        if len(errors) > MAX_ERRORS:  # a 4 MiB manifest would get a 3 MB answer
            message += f" (and {len(errors) - 1} more; the first {MAX_ERRORS} are listed)"
        raise ApiError(code, message, detail=detail, errors=errors[1:MAX_ERRORS])
    subject = manifest.subject.digest if manifest.subject is not None else None
    info = ManifestInfo(digest, manifest.media_type, len(raw), subject)
    referrer = _referrer(manifest, digest, len(raw)) if subject is not None else None
    await asyncio.to_thread(storage.put_manifest, name, raw, info, tag=tag, referrer=referrer)
    log.debug("manifest %s stored in %s%s", digest, name, f" as {tag}" if tag else "")
    headers = {
        "Location": f"/v2/{name}/manifests/{digest}",
        "Docker-Content-Digest": str(digest),
    }
    if subject is not None:
        headers["OCI-Subject"] = str(subject)
    return empty(201, headers)


async def manifest_delete(request: web.Request, name: str, reference: str) -> web.StreamResponse:
    """Delete a manifest by digest (with its tags) or just a tag: 202."""
    storage = registry(request).storage
    valid_name(name)
    if not storage.repo_exists(name):
        raise ApiError(
            ErrorCode.NAME_UNKNOWN, f"repository {name} not known", detail={"name": name}
        )
    if ":" in reference:
        digest = parse_digest(reference)
        if not await asyncio.to_thread(storage.delete_manifest, name, digest):
            raise _unknown(name, reference)
    else:
        try:
            deleted = await asyncio.to_thread(storage.delete_tag, name, reference)
        except InvalidReference:
            deleted = False
        if not deleted:
            raise _unknown(name, reference)
    return empty(202)


# ---------------------------------------------------------------------- listings


def _page(request: web.Request, items: list[str]) -> tuple[list[str], dict[str, str]]:
    """Apply ``n`` and ``last``; the page and a ``Link`` header when more remain."""
    query = request.rel_url.query
    last = query.get("last")
    if last:
        items = [item for item in items if item > last]
    text = query.get("n")
    if text is None or text == "":
        return items, {}
    try:
        n = int(text)
        if n < 0:
            raise ValueError(text)
    except ValueError:
        raise ApiError(
            ErrorCode.UNSUPPORTED, f"n must be a non-negative integer, not {text!r}", status=400
        ) from None
    if n == 0 or len(items) <= n:
        return items[:n], {}
    page = items[:n]
    link = f"<{request.path}?{urlencode({'n': n, 'last': page[-1]}, quote_via=quote)}>"
    return page, {"Link": f'{link}; rel="next"'}


async def tags_list(request: web.Request, name: str) -> web.StreamResponse:
    """The tags of a repository, sorted, paginated."""
    storage = registry(request).storage
    valid_name(name)
    tags = await asyncio.to_thread(storage.tags, name)
    if tags is None:
        raise ApiError(
            ErrorCode.NAME_UNKNOWN, f"repository {name} not known", detail={"name": name}
        )
    page, headers = _page(request, tags)
    return web.json_response({"name": name, "tags": page}, headers=headers)


async def catalog(request: web.Request) -> web.StreamResponse:
    """Every repository, sorted, paginated."""
    names = await asyncio.to_thread(registry(request).storage.repositories)
    page, headers = _page(request, names)
    return web.json_response({"repositories": page}, headers=headers)


async def referrers(request: web.Request, name: str, digest: str) -> web.StreamResponse:
    """The manifests of ``name`` whose subject is ``digest``, as an OCI image index.

    Never 404 (a 404 tells clients the API is missing): an unknown subject or repository has
    no referrers.
    """
    storage = registry(request).storage
    valid_name(name)
    subject = parse_digest(digest)
    found = await asyncio.to_thread(storage.referrers, name, subject)
    headers: dict[str, str] = {}
    wanted = request.rel_url.query.getall("artifactType", [])
    if wanted:
        found = [d for d in found if d.get("artifactType") in wanted]
        headers["OCI-Filters-Applied"] = "artifactType"
    body = {"schemaVersion": 2, "mediaType": mt.OCI_INDEX, "manifests": found}
    return web.Response(
        body=json.dumps(body, separators=(",", ":")).encode(),
        headers={**headers, "Content-Type": mt.OCI_INDEX},
    )
