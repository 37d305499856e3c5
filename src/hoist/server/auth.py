"""Who may do what: htpasswd basic auth, anonymous reads, read-only mode, and the request log.

* ``--htpasswd FILE``: every request needs ``Authorization: Basic`` credentials matching a
  bcrypt entry (``user:$2y$...``, as ``htpasswd -B`` writes); otherwise 401 UNAUTHORIZED with
  ``WWW-Authenticate: Basic realm="hoist"``. Checked passwords are remembered for a few
  minutes (as a hash of the password), so a push does not pay bcrypt on every request.
  A user name that is not in the file is checked against a dummy hash of the same cost, so
  the time of an answer does not tell which names exist. bcrypt runs on its own small pool
  of threads (:data:`AUTH_WORKERS`), never on the one storage I/O uses, so failed logins
  cannot starve pushes and pulls; past :data:`AUTH_PENDING` checks waiting for it, further
  credentials that need one are answered 429 TOOMANYREQUESTS.
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
import secrets
import threading
import time
from collections.abc import Awaitable, Callable, Mapping
from concurrent.futures import ThreadPoolExecutor
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
AUTH_WORKERS = max(1, min(4, (os.cpu_count() or 2) // 2))
"""Threads that run bcrypt: half the CPUs (one on two), at most four."""
AUTH_PENDING = 128
"""Password checks waiting for those threads beyond which credentials get 429."""
# web.RequestKey appeared in aiohttp 3.12; older versions take a plain string key.
USER_KEY: Any = web.RequestKey("hoist.user", str) if hasattr(web, "RequestKey") else "hoist.user"

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


class Htpasswd:
    """Users and their bcrypt hashes."""

    def __init__(self, entries: Mapping[str, bytes]) -> None:
        self.entries = dict(entries)
        self._dummy: bytes | None = None
        self._dummy_lock = threading.Lock()

    def __len__(self) -> int:
        return len(self.entries)

    def dummy_hash(self) -> bytes:
        """A hash of a random password at the highest cost in the file (made once)."""
        with self._dummy_lock:
            if self._dummy is None:
                costs = [_cost(h) for h in self.entries.values()]
                rounds = max((c for c in costs if c is not None), default=12)
                salt = bcrypt.gensalt(rounds=min(max(rounds, 4), 31))
                self._dummy = bcrypt.hashpw(secrets.token_hex(16).encode(), salt)
            return self._dummy

    def check(self, user: str, password: str) -> bool:
        """Whether ``password`` is ``user``'s (slow: bcrypt, for unknown users too)."""
        hashed = self.entries.get(user)
        try:
            if hashed is None:
                bcrypt.checkpw(password.encode(), self.dummy_hash())
                return False
            return bcrypt.checkpw(password.encode(), hashed)
        except ValueError:
            return False


def _cost(hashed: bytes) -> int | None:
    """The cost of a ``$2?$NN$...`` hash."""
    try:
        return int(hashed[4:6])
    except ValueError:
        return None


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
        self._pool = ThreadPoolExecutor(AUTH_WORKERS, thread_name_prefix="hoist-bcrypt")
        self._pending = 0
        self._pool.submit(htpasswd.dummy_hash)  # ready before the first unknown name

    def close(self) -> None:
        """Stop the bcrypt threads (waiting checks are dropped)."""
        self._pool.shutdown(wait=False, cancel_futures=True)

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
        if self._pending >= AUTH_PENDING:
            raise ApiError(
                ErrorCode.TOOMANYREQUESTS,
                f"{AUTH_PENDING} password checks are waiting already; retry later",
                headers={"Retry-After": "1"},
            )
        self._pending += 1
        try:
            loop = asyncio.get_running_loop()
            good = await loop.run_in_executor(self._pool, self.htpasswd.check, user, password)
        finally:
            self._pending -= 1
        if not good:
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
    """One line per request: method, path, status, bytes sent, milliseconds, user.

    What was not HTTP at all (aiohttp's ``UNKNOWN /``: above all the TLS handshake of a
    client that tries https first on a loopback registry, as hoist and docker do) is logged
    only at DEBUG: one such line per client would be noise.
    """

    def log(self, request: BaseRequest, response: StreamResponse, time: float) -> None:
        user = request.get(USER_KEY, "-") if isinstance(request, web.Request) else "-"
        not_http = request.method == "UNKNOWN" and response.status == 400
        self.logger.log(
            logging.DEBUG if not_http else logging.INFO,
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
