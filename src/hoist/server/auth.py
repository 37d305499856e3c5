"""Who may do what: htpasswd basic auth, anonymous reads, read-only mode, and the request log.

* ``--htpasswd FILE``: every request needs ``Authorization: Basic`` credentials matching a
  bcrypt entry (``user:$2y$...``, as ``htpasswd -B`` writes); otherwise 401 UNAUTHORIZED with
  ``WWW-Authenticate: Basic realm="hoist"``. Checked passwords are remembered for a few
  minutes (as a hash of the password), so a push does not pay bcrypt on every request.
* ``--anonymous-read``: with an htpasswd file, GET and HEAD of content (manifests, blobs,
  tags, referrers, catalog) need no credentials. ``GET /v2/`` still answers 401 to a client
  without credentials, so clients that log in learn that they should send them.
* ``--read-only``: every write (POST, PUT, PATCH, DELETE) is refused with 405 and
  UNSUPPORTED, before authentication. The spec asks for 400 or 405 when deletion is disabled
  and distribution's read-only mode answers 405 UNSUPPORTED; DENIED (403) would tell the
  client that other credentials might be allowed, which is not the case.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import hashlib
import logging
import os
import time
from collections.abc import Awaitable, Callable, Mapping
from typing import Any

import bcrypt
from aiohttp import web
from aiohttp.abc import AbstractAccessLogger
from aiohttp.web_request import BaseRequest
from aiohttp.web_response import StreamResponse

from hoist.errors import ErrorCode, InvalidInput
from hoist.server.apierror import ApiError
from hoist.server.context import registry

__all__ = ["SAFE_METHODS", "Auth", "Htpasswd", "RequestLog", "load_htpasswd", "policy"]

log = logging.getLogger(__name__)

SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
CACHE_SECONDS = 300.0
CACHE_SIZE = 1024
# web.RequestKey appeared in aiohttp 3.12; older versions take a plain string key.
USER_KEY: Any = web.RequestKey("hoist.user", str) if hasattr(web, "RequestKey") else "hoist.user"

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


class Htpasswd:
    """Users and their bcrypt hashes."""

    def __init__(self, entries: Mapping[str, bytes]) -> None:
        self.entries = dict(entries)

    def __len__(self) -> int:
        return len(self.entries)

    def check(self, user: str, password: str) -> bool:
        """Whether ``password`` is ``user``'s (slow: bcrypt)."""
        hashed = self.entries.get(user)
        if hashed is None:
            return False
        try:
            return bcrypt.checkpw(password.encode(), hashed)
        except ValueError:
            return False


def load_htpasswd(path: str | os.PathLike[str]) -> Htpasswd:
    """Read an htpasswd file; InvalidInput for a line that is not ``user:<bcrypt hash>``."""
    entries: dict[str, bytes] = {}
    with open(path, encoding="utf-8") as f:
        for number, line in enumerate(f, 1):
            line = line.strip()
            if not line or line.startswith("#"):
                continue
            user, sep, hashed = line.partition(":")
            if not sep or not user:
                raise InvalidInput(f"{path}:{number}: want user:hash")
            if not hashed.startswith(("$2y$", "$2a$", "$2b$")):
                raise InvalidInput(
                    f"{path}:{number}: only bcrypt entries are supported (htpasswd -B)"
                )
            entries[user] = hashed.encode()
    if not entries:
        raise InvalidInput(f"{path}: no users")
    return Htpasswd(entries)


class Auth:
    """Basic authentication against an htpasswd file, with a small cache of good passwords."""

    def __init__(self, htpasswd: Htpasswd, realm: str = "hoist") -> None:
        self.htpasswd = htpasswd
        self.realm = realm
        self._good: dict[tuple[str, bytes], float] = {}

    @property
    def challenge(self) -> str:
        return f'Basic realm="{self.realm}"'

    @staticmethod
    def credentials(header: str | None) -> tuple[str, str] | None:
        """``(user, password)`` of a Basic ``Authorization`` header; None if there is none.

        An empty user counts as none: some clients (containers/image) send ``Basic Og==``
        (``:``) when they have no credentials.
        """
        if not header:
            return None
        scheme, _, encoded = header.partition(" ")
        if scheme.lower() != "basic":
            return None
        try:
            user, sep, password = base64.b64decode(encoded.strip()).decode().partition(":")
        except (binascii.Error, UnicodeDecodeError):
            return None
        if not sep or not user:
            return None
        return user, password

    async def authenticate(self, header: str | None) -> str | None:
        """The user the ``Authorization`` header proves, or None."""
        creds = self.credentials(header)
        if creds is None:
            return None
        user, password = creds
        key = (user, hashlib.sha256(password.encode()).digest())
        now = time.monotonic()
        if self._good.get(key, 0.0) > now:
            return user
        if not await asyncio.to_thread(self.htpasswd.check, user, password):
            log.info("authentication failed for user %r", user)
            return None
        if len(self._good) >= CACHE_SIZE:
            self._good = {k: t for k, t in self._good.items() if t > now}
            if len(self._good) >= CACHE_SIZE:
                self._good.clear()
        self._good[key] = now + CACHE_SECONDS
        return user


@web.middleware
async def policy(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Refuse writes in read-only mode, then demand credentials where they are needed."""
    reg = registry(request)
    safe = request.method in SAFE_METHODS
    if reg.read_only and not safe:
        raise ApiError(ErrorCode.UNSUPPORTED, "the registry is read-only", status=405)
    if reg.auth is None:
        return await handler(request)
    user = await reg.auth.authenticate(request.headers.get("Authorization"))
    if user is None:
        given = reg.auth.credentials(request.headers.get("Authorization")) is not None
        base = request.path.rstrip("/") == "/v2"
        if given or not (reg.anonymous_read and safe and not base):
            raise ApiError(
                ErrorCode.UNAUTHORIZED,
                "authentication required" if not given else "invalid credentials",
                headers={"WWW-Authenticate": reg.auth.challenge},
            )
    else:
        request[USER_KEY] = user
    return await handler(request)


class RequestLog(AbstractAccessLogger):
    """One line per request: method, path, status, bytes sent, milliseconds, user."""

    def log(self, request: BaseRequest, response: StreamResponse, time: float) -> None:
        user = request.get(USER_KEY, "-") if isinstance(request, web.Request) else "-"
        self.logger.info(
            "%s %s %d %dB %.1fms %s",
            request.method,
            request.path_qs,
            response.status,
            response.body_length,
            time * 1000.0,
            user,
        )

    @property
    def enabled(self) -> bool:
        return self.logger.isEnabledFor(logging.INFO)
