"""The registry HTTP transport: one urllib3 pool, TLS per registry, auth, retries, redirects.

::

    t = Transport(credentials=CredentialStore(), settings=load_config().registry)
    with t.request("GET", "127.0.0.1:5000", "/v2/app/manifests/latest",
                   headers={"Accept": MEDIA_TYPES}, scopes=["repository:app:pull"]) as r:
        raw = r.read()
    with t.open_blob("127.0.0.1:5000", f"/v2/app/blobs/{d}", d, size, ["repository:app:pull"]) as b:
        for chunk in b: ...

Unexpected statuses raise (see :func:`hoist.transport.response.status_error`): 401/403 from the
registry -> AuthError; any other error -> RegistryError with ``.code`` (an ErrorCode; None
without an error body) and ``.status`` (a store maps 404 + MANIFEST_UNKNOWN/BLOB_UNKNOWN/
NAME_UNKNOWN, or a body-less 404, to NotFound);
connection failures and exhausted retries -> TransportError with a one-line message.
"""

from __future__ import annotations

import email.utils
import logging
import random
import threading
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any, TypeAlias
from urllib.parse import urlencode, urljoin, urlsplit

import urllib3
from urllib3 import exceptions as u3

from hoist.config.credentials import CredentialProvider
from hoist.config.settings import RegistrySettings, is_loopback, normalize_host
from hoist.errors import DigestMismatch, TransportError
from hoist.model.digest import Digest, VerifyingReader
from hoist.transport.auth import Authenticator
from hoist.transport.blob import ResumingReader
from hoist.transport.body import Body, RequestBody
from hoist.transport.response import (
    MAX_ERROR_BODY,
    Response,
    error_summary,
    exception_reason,
    release,
    status_error,
)

__all__ = ["SettingsLookup", "Transport", "parse_retry_after"]

log = logging.getLogger(__name__)

SettingsLookup: TypeAlias = Callable[[str], RegistrySettings] | Mapping[str, RegistrySettings]
"""Per-registry settings: ``HoistConfig.registry`` or a mapping of host to settings."""

RETRY_STATUSES = frozenset({408, 429, 500, 502, 503, 504})
REDIRECT_STATUSES = frozenset({301, 302, 303, 307, 308})
_MAX_TOKEN_BODY = 1 << 20


def _user_agent() -> str:
    from hoist import __version__

    return f"hoist/{__version__}"


class Transport:
    """HTTP to registries; thread-safe, one instance per program run (or per test).

    Timeouts are per socket operation. A failed connection or a 408/429/5xx is retried up to
    ``retries`` times within ``retry_time`` seconds, with exponential backoff (``backoff`` doubling
    up to ``backoff_max``, full jitter) or the server's ``Retry-After`` (capped at
    ``retry_after_max``). ``blob_attempts`` bounds the Range resumptions of :meth:`open_blob`.
    """

    def __init__(
        self,
        *,
        credentials: CredentialProvider | None = None,
        settings: SettingsLookup | None = None,
        user_agent: str | None = None,
        connect_timeout: float = 10.0,
        read_timeout: float = 60.0,
        retries: int = 4,
        retry_time: float = 60.0,
        backoff: float = 0.5,
        backoff_max: float = 10.0,
        retry_after_max: float = 60.0,
        max_redirects: int = 10,
        blob_attempts: int = 5,
        pool_size: int = 10,
    ) -> None:
        self.user_agent = user_agent or _user_agent()
        self.retries = retries
        self.retry_time = retry_time
        self.backoff_base = backoff
        self.backoff_max = backoff_max
        self.retry_after_max = retry_after_max
        self.max_redirects = max_redirects
        self.blob_attempts = blob_attempts
        self._settings = settings
        self._timeout = urllib3.Timeout(connect=connect_timeout, read=read_timeout)
        self._pool = urllib3.PoolManager(num_pools=32, maxsize=pool_size, block=False)
        self._auth = Authenticator(self._fetch, credentials)
        self._lock = threading.Lock()
        self._schemes: dict[str, str] = {}
        self._ping_locks: dict[str, threading.Lock] = {}

    def request(
        self,
        method: str,
        host: str,
        path: str,
        *,
        query: Iterable[tuple[str, str]] | None = None,
        headers: Mapping[str, str] | None = None,
        body: Body = None,
        scopes: Sequence[str] = (),
        expect: Iterable[int] = (200,),
        stream: bool = False,
        redirect: bool = True,
    ) -> Response:
        """Send a request to registry ``host`` (``reg:5000``) and return a response with an
        expected status, or raise.

        ``path`` starts with ``/`` or is an absolute URL (an upload ``Location``); ``query`` pairs
        are appended (repeated keys allowed). ``scopes`` (``repository:app:pull``) are what a bearer
        token must allow. With ``stream=False`` the body is read whole (small bodies only); with
        ``stream=True`` the caller reads it and closes the response. Redirects are followed unless
        ``redirect=False``; Authorization is only ever sent to ``host``.
        """
        host = _host(host)
        self._ensure_ping(host)
        url = path if "://" in path else f"{self.scheme(host)}://{host}{path}"
        if query:
            url += ("&" if "?" in url else "?") + urlencode(list(query))
        raw, url, at_registry = self._exchange(
            method, url, headers or {}, RequestBody(body), host, list(scopes), redirect
        )
        expected = raw.status in set(expect)
        response = Response(raw, url, preload=expected and not stream)
        if expected:
            return response
        raise status_error(
            response, method, auth=self._auth.describe(host) if at_registry else None
        )

    def open_blob(
        self,
        host: str,
        path: str,
        digest: Digest,
        size: int | None = None,
        scopes: Sequence[str] = (),
    ) -> VerifyingReader:
        """A reader of the blob at ``path`` that verifies ``size`` and ``digest`` while streaming
        and resumes with a Range request when the connection is cut. Close it when done."""
        response = self.request("GET", host, path, scopes=scopes, stream=True)
        declared = response.content_length
        if size is not None and declared is not None and declared != size:
            response.close()
            raise DigestMismatch(
                f"{digest}: {host} sends {declared} bytes, expected {size}",
                expected=str(size),
                actual=str(declared),
            )
        reader = ResumingReader(self, host, path, scopes, response, attempts=self.blob_attempts)
        return VerifyingReader(reader, digest, size)

    def scheme(self, host: str) -> str:
        """``https`` or ``http``: what ``host`` is reached with (as known so far)."""
        host = _host(host)
        with self._lock:
            known = self._schemes.get(host)
        if known:
            return known
        return "http" if self._settings_for(host).tls == "disabled" else "https"

    def backoff(self, attempt: int, retry_after: float | None = None) -> float:
        """Seconds to wait before retry number ``attempt + 1``."""
        if retry_after is not None:
            return min(retry_after, self.retry_after_max)
        return random.uniform(0, min(self.backoff_max, self.backoff_base * 2**attempt))

    def close(self) -> None:
        """Close every pooled connection."""
        self._pool.clear()

    def __enter__(self) -> Transport:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- internals ------------------------------------------------------------------------------

    def _exchange(
        self,
        method: str,
        url: str,
        headers: Mapping[str, str],
        body: RequestBody,
        host: str | None,
        scopes: list[str],
        redirect: bool,
    ) -> tuple[urllib3.BaseHTTPResponse, str, bool]:
        """Send with auth (at ``host`` only) and redirects; returns the final raw response, its url,
        and whether it came from ``host``."""
        origin = urlsplit(url).netloc.lower()
        scheme = urlsplit(url).scheme.lower()
        base = urllib3.HTTPHeaderDict({"User-Agent": self.user_agent})
        base.update(headers)
        hops, reauthed = 0, False
        while True:
            parts = urlsplit(url)
            netloc = parts.netloc.lower()
            # Credentials go only to the registry itself, and never downgraded to plain HTTP.
            at_registry = (
                host is not None
                and netloc == host
                and not (scheme == "https" and parts.scheme.lower() != "https")
            )
            send = urllib3.HTTPHeaderDict(base)
            sent = None
            if host is not None and at_registry:
                sent = self._auth.authorization(host, scopes)
                if sent:
                    send["Authorization"] = sent
            elif netloc != origin:
                send.discard("Authorization")
            raw, url = self._send(method, url, send, body, host if at_registry else None)
            if host is not None and at_registry and raw.status == 401 and not reauthed:
                wider = self._auth.challenged(
                    host, scopes, raw.headers.get("WWW-Authenticate"), sent
                )
                if wider is not None and body.rewind():
                    log.debug("%s: 401; trying again for %s", host, wider)
                    reauthed, scopes = True, wider
                    release(raw)
                    continue
            location = raw.headers.get("Location")
            if not (redirect and raw.status in REDIRECT_STATUSES and location):
                return raw, url, at_registry
            release(raw)
            hops += 1
            if hops > self.max_redirects:
                raise TransportError(
                    f"{origin}: more than {self.max_redirects} redirects ({method} {_where(url)})"
                )
            if raw.status == 303 or (raw.status in (301, 302) and method == "POST"):
                method = "GET" if method != "HEAD" else method
                body = RequestBody(None)
                for name in ("Content-Type", "Content-Length", "Transfer-Encoding"):
                    base.discard(name)
            elif not body.rewind():
                raise TransportError(
                    f"{netloc}: cannot follow a redirect: the request body cannot be sent again"
                )
            target = urljoin(url, location)
            log.debug("%s %s -> %d %s", method, url, raw.status, target)
            url = target

    def _send(
        self,
        method: str,
        url: str,
        headers: urllib3.HTTPHeaderDict,
        body: RequestBody,
        host: str | None,
    ) -> tuple[urllib3.BaseHTTPResponse, str]:
        """One request, retried; ``host`` is set when ``url`` is at that registry."""
        start = time.monotonic()
        attempt = 0
        while True:
            cause: BaseException | None = None
            retry_after: float | None = None
            try:
                raw = self._urlopen(method, url, headers, body)
            except (u3.HTTPError, OSError) as exc:
                if host is not None and self._fall_back(host, url, exc) and body.rewind():
                    url = "http://" + url.removeprefix("https://")
                    continue
                cause, problem = exc, exception_reason(exc)
                if not body.rewind():
                    raise TransportError(
                        f"{_where(url)}: {problem} ({method}; the body cannot be sent again)"
                    ) from exc
            else:
                if host is not None and url.startswith("https://"):
                    with self._lock:
                        self._schemes.setdefault(host, "https")
                if raw.status not in RETRY_STATUSES or not body.rewind():
                    return raw, url
                retry_after = parse_retry_after(raw.headers.get("Retry-After"))
                problem = f"{raw.status} {raw.reason}"
                summary = error_summary(_read_quietly(raw))
                if summary:
                    problem += f" ({' '.join(summary.split())})"
                release(raw)
            delay = self.backoff(attempt, retry_after)
            attempt += 1
            elapsed = time.monotonic() - start
            if attempt > self.retries or elapsed + delay > self.retry_time:
                raise TransportError(
                    f"{_where(url)}: {problem} ({method}; gave up after {attempt} attempts "
                    f"in {elapsed:.1f} s)"
                ) from cause
            log.info("%s %s: %s; retry %d in %.2f s", method, _where(url), problem, attempt, delay)
            time.sleep(delay)

    def _urlopen(
        self, method: str, url: str, headers: urllib3.HTTPHeaderDict, body: RequestBody
    ) -> urllib3.BaseHTTPResponse:
        parts = urlsplit(url)
        pool = self._pool.connection_from_url(
            url, pool_kwargs=self._tls(parts.netloc, parts.scheme)
        )
        target = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
        if body.length is not None and "Content-Length" not in headers:
            headers = urllib3.HTTPHeaderDict(headers)
            headers["Content-Length"] = str(body.length)
        raw = pool.urlopen(
            method,
            target,
            body=body.payload(),
            headers=headers,
            retries=False,
            redirect=False,
            assert_same_host=False,
            timeout=self._timeout,
            preload_content=False,
            decode_content=False,
            release_conn=False,
        )
        log.debug("%s %s -> %d", method, url, raw.status)
        return raw

    def _tls(self, netloc: str, scheme: str) -> dict[str, Any] | None:
        if scheme != "https":
            return None
        settings = self._settings_for(netloc)
        if settings.tls == "insecure":
            return {"cert_reqs": "CERT_NONE", "assert_hostname": False}
        return {"cert_reqs": "CERT_REQUIRED", "ca_certs": settings.ca_file}

    def _settings_for(self, host: str) -> RegistrySettings:
        lookup = self._settings
        if lookup is None:
            return RegistrySettings()
        if isinstance(lookup, Mapping):
            return lookup.get(normalize_host(host)) or RegistrySettings()
        return lookup(host)

    def _fall_back(self, host: str, url: str, exc: BaseException) -> bool:
        """Whether to retry ``host`` with plain http after a TLS failure, remembering the choice."""
        if not url.startswith("https://") or not isinstance(exc, u3.SSLError):
            return False
        if "certificate" in exception_reason(exc).lower():
            return False  # it does speak TLS; a bad certificate is reported, not bypassed
        tls = self._settings_for(host).tls
        if not (tls == "insecure" or (tls == "enabled" and is_loopback(host))):
            return False
        with self._lock:
            known = self._schemes.setdefault(host, "http")
        if known != "http":
            return False  # https worked before: this is a real failure
        log.info("%s: no TLS (%s); using plain http", host, exception_reason(exc))
        return True

    def _ensure_ping(self, host: str) -> None:
        """Learn ``host``'s auth challenge from ``GET /v2/``, once per host."""
        if self._auth.known(host):
            return
        with self._lock:
            lock = self._ping_locks.setdefault(host, threading.Lock())
        with lock:
            if self._auth.known(host):
                return
            headers = urllib3.HTTPHeaderDict({"User-Agent": self.user_agent})
            raw, _ = self._send(
                "GET", f"{self.scheme(host)}://{host}/v2/", headers, RequestBody(None), host
            )
            challenge = raw.headers.get("WWW-Authenticate") if raw.status == 401 else None
            release(raw)
            self._auth.record(host, challenge)

    def _fetch(
        self, method: str, url: str, headers: Mapping[str, str], body: bytes | None
    ) -> tuple[int, Mapping[str, str], bytes]:
        """An unauthenticated exchange for the Authenticator (token requests)."""
        raw, url, _ = self._exchange(method, url, headers, RequestBody(body), None, [], True)
        with Response(raw, url) as response:
            return response.status, response.headers, response.read(_MAX_TOKEN_BODY)


def parse_retry_after(value: str | None) -> float | None:
    """Seconds from a ``Retry-After`` value (delta-seconds or an HTTP date); None if invalid."""
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(0.0, when.timestamp() - time.time())


def _host(host: str) -> str:
    """Lowercase; a bare IPv6 address gets brackets."""
    host = host.strip().lower()
    return f"[{host}]" if host.count(":") > 1 and not host.startswith("[") else host


def _where(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.netloc}{parts.path}"


def _read_quietly(raw: urllib3.BaseHTTPResponse) -> bytes:
    try:
        return raw.read(MAX_ERROR_BODY, decode_content=False)
    except (u3.HTTPError, OSError):
        return b""
