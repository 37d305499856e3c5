"""What every request handler shares: the registry state and small request/response helpers."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator, Iterator, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING

from aiohttp import web

from hoist.errors import ErrorCode, InvalidDigest, InvalidReference
from hoist.model.digest import Digest
from hoist.server.apierror import ApiError
from hoist.server.storage import Storage, check_name
from hoist.server.uploads import Uploads

if TYPE_CHECKING:
    from hoist.server.auth import Auth

__all__ = [
    "REGISTRY",
    "Registry",
    "body_chunks",
    "empty",
    "parse_digest",
    "registry",
    "valid_name",
]


@dataclass(eq=False)
class Registry:
    """The state of one registry application."""

    storage: Storage
    uploads: Uploads
    auth: Auth | None = None
    anonymous_read: bool = False
    read_only: bool = False
    chunk_min_length: int = 0
    max_inflight: int | None = None
    inflight: int = 0

    @contextlib.contextmanager
    def admit(self) -> Iterator[None]:
        """Count a request that streams a body; TOOMANYREQUESTS past ``max_inflight``."""
        if self.max_inflight is not None and self.inflight >= self.max_inflight:
            raise ApiError(
                ErrorCode.TOOMANYREQUESTS,
                f"more than {self.max_inflight} uploads in progress; retry later",
                headers={"Retry-After": "1"},
            )
        self.inflight += 1
        try:
            yield
        finally:
            self.inflight -= 1


REGISTRY = web.AppKey("hoist.registry", Registry)


def registry(request: web.Request) -> Registry:
    """The registry state of the application serving ``request``."""
    return request.app[REGISTRY]


def valid_name(name: str) -> str:
    """``name`` if it follows the repository grammar, else NAME_INVALID."""
    try:
        check_name(name)
    except InvalidReference as exc:
        raise ApiError(ErrorCode.NAME_INVALID, str(exc), detail={"name": name}) from None
    return name


def parse_digest(text: str | None) -> Digest:
    """A digest from a path or query parameter, else DIGEST_INVALID (400)."""
    if not text:
        raise ApiError(ErrorCode.DIGEST_INVALID, "a digest is required")
    try:
        return Digest.parse(text)
    except InvalidDigest as exc:
        raise ApiError(ErrorCode.DIGEST_INVALID, str(exc), detail={"digest": text}) from None


async def body_chunks(request: web.Request) -> AsyncIterator[bytes]:
    """The request body as it arrives."""
    async for chunk in request.content.iter_any():
        yield chunk


def empty(status: int, headers: Mapping[str, str] | None = None) -> web.Response:
    """An answer without a body (``Content-Length: 0``, none on a 204)."""
    out = dict(headers or {})
    if status != 204:
        out["Content-Length"] = "0"
    return web.Response(status=status, headers=out)
