"""What every request handler shares: the registry state and small request/response helpers."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import AsyncIterator, Iterator, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from aiohttp import web

from hoist.errors import ErrorCode, InvalidDigest, InvalidReference
from hoist.model.digest import Digest
from hoist.model.manifest import MAX_MANIFEST_SIZE
from hoist.server.apierror import ApiError
from hoist.server.settings import DEFAULT_BODY_TIMEOUT
from hoist.server.storage import Storage, check_name
from hoist.server.uploads import Uploads

if TYPE_CHECKING:
    from hoist.server.auth import Auth

__all__ = [
    "EVICT_AFTER",
    "REGISTRY",
    "STALL",
    "BodyTimeout",
    "Registry",
    "body_chunks",
    "empty",
    "parse_digest",
    "registry",
    "valid_name",
]


log = logging.getLogger(__name__)

EVICT_AFTER = 5.0
"""With every upload slot taken, one whose body has sent nothing for this many seconds gives
its slot to a new upload (its connection is closed; what it sent is kept, so it can resume)."""


@dataclass(eq=False)
class _Slot:
    """One upload being received: when its body last delivered bytes, and its connection."""

    request: web.Request
    last: float


@dataclass(eq=False)
class Registry:
    """The state of one registry application."""

    storage: Storage
    uploads: Uploads
    auth: Auth | None = None
    anonymous_read: bool = False
    read_only: bool = False
    chunk_min_length: int = 0
    max_uploads: int | None = None
    body_timeout: float = DEFAULT_BODY_TIMEOUT
    max_manifest_size: int = MAX_MANIFEST_SIZE
    uploading: dict[int, _Slot] = field(default_factory=dict)
    """The requests streaming a blob body now, by ``id()``."""
    parsing: asyncio.Semaphore = field(default_factory=lambda: asyncio.Semaphore(1))
    """Held while a large manifest is parsed in a thread: one at a time, so parsing threads
    never crowd the event loop out of the GIL."""

    @property
    def inflight(self) -> int:
        """Requests streaming a blob body now."""
        return len(self.uploading)

    @contextlib.contextmanager
    def admit(self, request: web.Request) -> Iterator[None]:
        """Count a request that streams a blob body; past ``max_uploads``, take the slot of
        an upload stalled for :data:`EVICT_AFTER` seconds, or answer TOOMANYREQUESTS."""
        if (
            self.max_uploads is not None
            and len(self.uploading) >= self.max_uploads
            and not self._evict_stalled()
        ):
            raise ApiError(
                ErrorCode.TOOMANYREQUESTS,
                f"{self.max_uploads} uploads in progress already; retry later",
                headers={"Retry-After": "1"},
            )
        key = id(request)
        self.uploading[key] = _Slot(request, time.monotonic())
        try:
            yield
        finally:
            self.uploading.pop(key, None)

    def _evict_stalled(self) -> bool:
        """Drop the upload that has sent nothing for longest, if for EVICT_AFTER seconds."""
        if not self.uploading:
            return False
        key, slot = min(self.uploading.items(), key=lambda item: item[1].last)
        idle = time.monotonic() - slot.last
        if idle < EVICT_AFTER:
            return False
        del self.uploading[key]
        log.warning(
            "%s %s: stalled for %.0f s with every upload slot taken: dropped",
            slot.request.method,
            slot.request.path,
            idle,
        )
        if slot.request.transport is not None:
            slot.request.transport.close()
        return True

    def progress(self, request: web.Request) -> None:
        """Note that the body of ``request`` (if it holds a slot) delivered bytes."""
        slot = self.uploading.get(id(request))
        if slot is not None:
            slot.last = time.monotonic()


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


STALL = 0.5
"""Seconds without new body bytes after which :func:`body_chunks` yields ``b""``."""


class BodyTimeout(Exception):
    """A request body delivered nothing for ``body_timeout`` seconds."""

    def __init__(self, seconds: float) -> None:
        super().__init__(f"no body bytes for {seconds:g} s")
        self.seconds = seconds


async def body_chunks(request: web.Request) -> AsyncIterator[bytes]:
    """The request body as it arrives; ``b""`` each time it pauses for :data:`STALL` seconds
    (so what was gathered can be written out), BodyTimeout once it has sent nothing for the
    registry's ``body_timeout``."""
    reg = registry(request)
    timeout = reg.body_timeout
    content = request.content
    loop = asyncio.get_running_loop()
    last = loop.time()
    while True:
        try:
            async with asyncio.timeout(min(STALL, max(timeout - (loop.time() - last), 0.0))):
                chunk = await content.readany()
        except TimeoutError:
            if loop.time() - last >= timeout:
                raise BodyTimeout(timeout) from None
            yield b""
            continue
        if not chunk:
            return
        last = loop.time()
        reg.progress(request)
        yield chunk


def empty(status: int, headers: Mapping[str, str] | None = None) -> web.Response:
    """An answer without a body (``Content-Length: 0``, none on a 204)."""
    out = dict(headers or {})
    if status != 204:
        out["Content-Length"] = "0"
    return web.Response(status=status, headers=out)
