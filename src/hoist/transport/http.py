"""The registry HTTP transport: urllib3 pools, proxies, TLS per registry, auth, retries, mirrors.

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

What is worth another try is tried again: timeouts, connections reset or closed early, 408, 429,
500, 502, 503, 504 (``Retry-After`` honoured). What another try cannot mend fails at once, in one
line that names the cause and the fix: connection refused, a host name that does not resolve, a
certificate that does not verify, a TLS handshake with a server that speaks plain HTTP or wants a
client certificate, a proxy that refuses, and 401/403 after credentials were sent.

Proxies come from ``HTTP_PROXY``/``HTTPS_PROXY``/``NO_PROXY`` (see :mod:`hoist.transport.proxy`),
a ``proxy`` option, or a registry's ``proxy`` setting; https goes through a CONNECT tunnel, so the
proxy sees neither the registry's credentials nor its traffic. Per-registry settings add mTLS
client certificates (also from the certs.d directories), mirrors that GETs of manifests and blobs
try first (a manifest asked for by digest is checked against it, then the next mirror or the
registry itself answers), and throttles shared by every thread: ``req_per_sec`` and
``req_concurrent`` (:mod:`hoist.transport.limits`). A streamed body that sends no byte for
``stall_timeout`` seconds fails (and a blob read resumes where it stopped).
"""

from __future__ import annotations

import contextlib
import email.utils
import io
import logging
import random
import re
import ssl
import threading
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any, TypeAlias
from urllib.parse import urlencode, urljoin, urlsplit

import urllib3
from urllib3 import exceptions as u3
from urllib3.connection import HTTPConnection, HTTPSConnection
from urllib3.connectionpool import HTTPConnectionPool, HTTPSConnectionPool

from hoist.config.certs import HostCerts, host_certs
from hoist.config.credentials import CredentialProvider
from hoist.config.settings import Mirror, RegistrySettings, TLSMode, is_loopback, normalize_host
from hoist.errors import AuthError, DigestMismatch, HoistError, TransportError
from hoist.model.digest import Digest, VerifyingReader, digest_of
from hoist.transport.auth import Authenticator
from hoist.transport.blob import ResumingReader
from hoist.transport.body import Body, Passthrough, RequestBody
from hoist.transport.limits import HostLimiter, Slot
from hoist.transport.proxy import ProxyEnv, proxy_credentials, redact_proxy
from hoist.transport.response import (
    MAX_ERROR_BODY,
    Response,
    error_summary,
    exception_reason,
    release,
    status_error,
)
from hoist.transport.tls import TLSContexts, TLSFiles

__all__ = ["SettingsLookup", "Transport", "parse_retry_after"]

log = logging.getLogger(__name__)

SettingsLookup: TypeAlias = Callable[[str], RegistrySettings] | Mapping[str, RegistrySettings]
"""Per-registry settings: ``HoistConfig.registry`` or a mapping of host to settings."""

RETRY_STATUSES = frozenset({408, 429, 500, 502, 503, 504})
REDIRECT_STATUSES = frozenset({301, 302, 303, 307, 308})
_MAX_TOKEN_BODY = 1 << 20
_MAX_MIRRORED_MANIFEST = 4 << 20
_MIRRORED = re.compile(r"/v2/(?P<repo>.+)/(?P<kind>manifests|blobs)/(?P<ref>[^/]+)")


class _SendsPassthrough:
    """Sends a :class:`Passthrough` body itself: spliced from socket to socket on a plain
    connection, read and sent in chunks over TLS."""

    sock: Any

    def send(self, data: Any) -> None:
        if isinstance(data, Passthrough):
            data.send_to(self.sock)
        else:
            super().send(data)  # type: ignore[misc]


class _Connection(_SendsPassthrough, HTTPConnection):
    pass


class _TLSConnection(_SendsPassthrough, HTTPSConnection):
    pass


class _HTTPPool(HTTPConnectionPool):
    ConnectionCls = _Connection


class _QuietHTTPSConnectionPool(HTTPSConnectionPool):
    """urllib3's HTTPS pool without its InsecureRequestWarning: hoist logs that choice itself
    (``tls=insecure``), and no raw Python warning reaches a user's terminal."""

    ConnectionCls = _TLSConnection

    def _validate_conn(self, conn: Any) -> None:
        if conn.is_closed:
            conn.connect()


_POOL_CLASSES = {"http": _HTTPPool, "https": _QuietHTTPSConnectionPool}


class _HeldResponse(Response):
    """A response that gives its request slot back when it is closed."""

    def __init__(self, raw: urllib3.BaseHTTPResponse, url: str, slot: Slot, preload: bool) -> None:
        self._slot = slot
        super().__init__(raw, url, preload=preload)

    def close(self) -> None:
        try:
            super().close()
        finally:
            self._slot.release()


def _user_agent() -> str:
    from hoist import __version__

    return f"hoist/{__version__}"


class Transport:
    """HTTP to registries; thread-safe, one instance per program run (or per test).

    ``connect_timeout`` bounds making a connection, ``read_timeout`` waiting for an answer, and
    ``stall_timeout`` each wait for the next bytes of a streamed body. A timeout, a dropped
    connection or a 408/429/5xx is retried up to ``retries`` times within ``retry_time`` seconds,
    with exponential backoff (``backoff`` doubling up to ``backoff_max``, full jitter) or the
    server's ``Retry-After`` (capped at ``retry_after_max``); what cannot mend fails at once.
    ``blob_attempts`` bounds the Range resumptions of :meth:`open_blob`. ``pool_size``
    connections per registry are kept for reuse: a copy has up to 16 requests in flight to one
    registry, and ``sync``/``repo copy`` run several copies at once.

    ``proxy`` (a URL, or ``direct``) and ``no_proxy`` replace the environment's
    HTTP(S)_PROXY/NO_PROXY (``environ``, default ``os.environ``, read here); a registry's own
    ``proxy`` setting wins over both. ``tls`` overrides every registry's TLS mode (one command's
    ``--tls insecure``). ``certs_dirs`` are the certs.d roots (default
    :func:`hoist.config.certs.certs_dirs`).
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
        pool_size: int = 32,
        stall_timeout: float | None = None,
        proxy: str | None = None,
        no_proxy: str | None = None,
        environ: Mapping[str, str] | None = None,
        tls: TLSMode | None = None,
        certs_dirs: Sequence[str | Path] | None = None,
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
        self.stall_timeout = read_timeout if stall_timeout is None else stall_timeout
        self._timeout = urllib3.Timeout(connect=connect_timeout, read=read_timeout)
        self._pool_size = pool_size
        self._pool = self._manager(None)
        self._proxies = ProxyEnv(environ, proxy=proxy, no_proxy=no_proxy)
        self._tls_override: TLSMode | None = tls
        self._certs_dirs = None if certs_dirs is None else tuple(Path(d) for d in certs_dirs)
        self._auth = Authenticator(self._fetch, credentials)
        self._lock = threading.Lock()
        self._schemes: dict[str, str] = {}
        self._ping_locks: dict[str, threading.Lock] = {}
        self._proxy_pools: dict[str, urllib3.ProxyManager] = {}
        self._limiters: dict[str, HostLimiter] = {}
        self._certs: dict[str, HostCerts] = {}
        self._contexts = TLSContexts()
        self._insecure_logged: set[str] = set()

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
        size: int | None = None,
    ) -> Response:
        """Send a request to registry ``host`` (``reg:5000``) and return a response with an
        expected status, or raise.

        ``path`` starts with ``/`` or is an absolute URL (an upload ``Location``); ``query`` pairs
        are appended (repeated keys allowed). ``scopes`` (``repository:app:pull``) are what a bearer
        token must allow. With ``stream=False`` the body is read whole (small bodies only); with
        ``stream=True`` the caller reads it and closes the response. Redirects are followed unless
        ``redirect=False``; Authorization is only ever sent to ``host``. ``size`` is the length a
        blob GET must have: a mirror that answers with another is skipped.
        """
        host = _host(host)
        match = _MIRRORED.fullmatch(path) if method == "GET" else None
        if match is not None:
            for mirror in self._settings_for(host).mirrors:
                answer = self._from_mirror(
                    mirror, match, headers, scopes, stream, redirect, query, host, size
                )
                if answer is not None:
                    return answer
        try:
            return self._request_at(
                method, host, path, query, headers, body, scopes, expect, stream, redirect
            )
        except AuthError as exc:
            raise AuthError(self._auth_hint(str(exc), host)) from exc

    def _request_at(
        self,
        method: str,
        host: str,
        path: str,
        query: Iterable[tuple[str, str]] | None,
        headers: Mapping[str, str] | None,
        body: Body,
        scopes: Sequence[str],
        expect: Iterable[int],
        stream: bool,
        redirect: bool,
    ) -> Response:
        first = self._first_request(host, method, body)
        url = path if "://" in path else f"{self.scheme(host)}://{host}{path}"
        if query:
            url += ("&" if "?" in url else "?") + urlencode(list(query))
        try:
            slot = self._limiter(host).acquire()
            try:
                raw, url, at_registry = self._exchange(
                    method, url, headers or {}, RequestBody(body), host, list(scopes), redirect
                )
            except BaseException:
                slot.release()
                raise
            if first is not None and not self._auth.known(host):
                refused = at_registry and raw.status == 401
                self._auth.record(host, raw.headers.get("WWW-Authenticate") if refused else None)
        finally:
            if first is not None:
                first.release()
        expected = raw.status in set(expect)
        if expected and stream:
            self._stall_guard(raw)
        response = _HeldResponse(raw, url, slot, preload=expected and not stream)
        if expected:
            return response
        raise status_error(
            response, method, auth=self._auth.describe(host) if at_registry else None
        )

    def _from_mirror(
        self,
        mirror: Mirror,
        match: re.Match[str],
        headers: Mapping[str, str] | None,
        scopes: Sequence[str],
        stream: bool,
        redirect: bool,
        query: Iterable[tuple[str, str]] | None,
        host: str,
        size: int | None,
    ) -> Response | None:
        """The answer of ``mirror`` to a GET of a manifest or blob, or None (after logging why)
        when it has none that holds: any error, any status but 200/206, a manifest with a wrong
        digest, a blob of another length than ``size``."""
        repo, kind, ref = match.group("repo", "kind", "ref")
        prefix = f"{mirror.prefix}/" if mirror.prefix else ""
        path = f"/v2/{prefix}{repo}/{kind}/{ref}"
        mirror_scopes = [_prefixed_scope(s, repo, prefix) for s in scopes]
        where = _host(mirror.host)
        try:
            response = self._request_at(
                "GET", where, path, query, headers, None, mirror_scopes, (200, 206), True, redirect
            )
        except (HoistError, OSError) as exc:
            log.info("mirror %s of %s: %s; trying the next", mirror.location, host, exc)
            return None
        if kind == "manifests" and ref.startswith("sha") and ":" in ref:
            try:
                raw = response.read_capped(_MAX_MIRRORED_MANIFEST, what="manifest")
                wanted = Digest.parse(ref)
            except (HoistError, ValueError) as exc:
                response.close()
                log.info("mirror %s of %s: %s; trying the next", mirror.location, host, exc)
                return None
            response.close()
            if digest_of(raw, wanted.algorithm) != wanted:
                log.warning(
                    "mirror %s of %s: manifest %s does not match its digest; not used",
                    mirror.location,
                    host,
                    wanted,
                )
                return None
            return _buffered(response, raw)
        declared = response.content_length
        if kind == "blobs" and size is not None and response.status == 200 and declared != size:
            response.close()
            log.warning(
                "mirror %s of %s: blob %s has %s bytes, not %d; not used",
                mirror.location,
                host,
                ref,
                declared,
                size,
            )
            return None
        if not stream:
            try:
                return _buffered(response, response.read_capped(_MAX_TOKEN_BODY, what="reply"))
            except HoistError as exc:
                log.info("mirror %s of %s: %s; trying the next", mirror.location, host, exc)
                return None
            finally:
                response.close()
        log.debug("GET %s via mirror %s", path, mirror.location)
        return response

    def needs_login(self, host: str) -> bool:
        """Whether ``host`` answers ``GET /v2/`` with a challenge (401) rather than 200."""
        host = _host(host)
        self._ensure_ping(host)
        return self._auth.challenge(host) is not None

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
        response = self.request("GET", host, path, scopes=scopes, stream=True, size=size)
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

    def proxy_for(self, url: str) -> str | None:
        """The proxy URL a request to ``url`` goes through, or None (direct)."""
        netloc = urlsplit(url).netloc.lower()
        own = self._settings_for(netloc).proxy if netloc else None
        if own is not None:
            return None if own == "direct" else own
        return self._proxies.proxy_for(url)

    def backoff(self, attempt: int, retry_after: float | None = None) -> float:
        """Seconds to wait before retry number ``attempt + 1``."""
        if retry_after is not None:
            return min(retry_after, self.retry_after_max)
        return random.uniform(0, min(self.backoff_max, self.backoff_base * 2**attempt))

    def close(self) -> None:
        """Close every pooled connection."""
        self._pool.clear()
        with self._lock:
            proxies = list(self._proxy_pools.values())
        for manager in proxies:
            manager.clear()

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
            # Credentials go only to the registry itself, and never downgraded to plain HTTP
            # (unless the registry itself was found to speak only plain HTTP: _fall_back).
            at_registry = (
                host is not None
                and netloc == host
                and not (
                    scheme == "https"
                    and parts.scheme.lower() != "https"
                    and self.scheme(host) != "http"
                )
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
            target = _redirect_target(netloc, url, location)
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
                raw = self._urlopen(method, url, headers, body, probe=host is not None)
            except (u3.HTTPError, OSError) as exc:
                if host is not None and body.rewind() and self._probe_met_tls(host, url, exc):
                    continue  # the same request again, now with the CAs that verify it
                if host is not None and self._fall_back(host, url, exc) and body.rewind():
                    url = "http://" + url.removeprefix("https://")
                    continue
                cause, problem = exc, exception_reason(exc)
                fatal = self._fatal(url, exc, problem)
                if fatal is not None:
                    raise TransportError(fatal) from exc
                if not body.rewind():
                    raise TransportError(
                        f"{_where(url)}: {problem} ({method}; the body cannot be sent again)"
                    ) from exc
            else:
                if host is not None and url.startswith("https://"):
                    with self._lock:
                        self._schemes.setdefault(host, "https")
                if raw.status == 407:
                    release(raw)
                    raise TransportError(
                        self._proxy_refused(url, "407 Proxy Authentication Required")
                    )
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
        self,
        method: str,
        url: str,
        headers: urllib3.HTTPHeaderDict,
        body: RequestBody,
        *,
        probe: bool = False,
    ) -> urllib3.BaseHTTPResponse:
        """One request as it is; ``probe``: to a registry whose scheme may be unknown yet."""
        parts = urlsplit(url)
        netloc = parts.netloc.lower()
        proxy = self.proxy_for(url)
        manager = self._pool if proxy is None else self._proxy_manager(proxy)
        pool = manager.connection_from_url(url, pool_kwargs=self._tls(netloc, parts.scheme, probe))
        target = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
        if proxy is not None and parts.scheme.lower() == "http":
            target = url  # forwarded: the proxy takes the absolute URL
            headers = urllib3.HTTPHeaderDict(headers)
            if isinstance(manager, urllib3.ProxyManager):
                headers.update(manager.proxy_headers)
        if body.length is not None and "Content-Length" not in headers:
            headers = urllib3.HTTPHeaderDict(headers)
            headers["Content-Length"] = str(body.length)
        waited = self._limiter(netloc).pace()
        if waited > 0.001:
            log.debug("%s: waited %.2f s for its req-per-sec limit", netloc, waited)
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
        log.debug(
            "%s %s -> %d%s", method, url, raw.status, f" via {redact_proxy(proxy)}" if proxy else ""
        )
        return raw

    def _manager(self, proxy: str | None) -> urllib3.PoolManager:
        if proxy is None:
            manager = urllib3.PoolManager(num_pools=32, maxsize=self._pool_size, block=False)
        else:
            login = proxy_credentials(proxy)
            auth = urllib3.make_headers(proxy_basic_auth=":".join(login)) if login else {}
            manager = urllib3.ProxyManager(
                redact_proxy(proxy),
                num_pools=32,
                maxsize=self._pool_size,
                block=False,
                proxy_headers=auth,
            )
        manager.pool_classes_by_scheme = _POOL_CLASSES
        return manager

    def _proxy_manager(self, proxy: str) -> urllib3.ProxyManager:
        with self._lock:
            manager = self._proxy_pools.get(proxy)
            if manager is None:
                made = self._manager(proxy)
                assert isinstance(made, urllib3.ProxyManager)
                manager = self._proxy_pools[proxy] = made
            return manager

    def _limiter(self, host: str) -> HostLimiter:
        key = normalize_host(host)
        with self._lock:
            limiter = self._limiters.get(key)
        if limiter is None:
            settings = self._settings_for(key)
            made = HostLimiter(settings.req_per_sec, settings.req_concurrent)
            with self._lock:
                limiter = self._limiters.setdefault(key, made)
        return limiter

    def _stall_guard(self, raw: urllib3.BaseHTTPResponse) -> None:
        """Each read of a streamed body waits at most ``stall_timeout`` seconds for bytes."""
        sock = getattr(getattr(raw, "connection", None), "sock", None)
        if sock is not None:
            with contextlib.suppress(OSError):
                sock.settimeout(self.stall_timeout)

    def _tls(self, netloc: str, scheme: str, probe: bool = False) -> dict[str, Any] | None:
        if scheme != "https":
            return None
        settings = self._settings_for(netloc)
        with self._lock:
            certs = self._certs.get(netloc)
        if certs is None:
            certs = host_certs(netloc, self._certs_dirs)
            with self._lock:
                self._certs[netloc] = certs
        files = TLSFiles.of(settings, certs)
        if probe and self._probing(netloc, settings):
            return {"ssl_context": self._contexts.probe()}
        if not files.verify:
            with self._lock:
                first = netloc not in self._insecure_logged
                self._insecure_logged.add(netloc)
            if first:
                log.info("%s: TLS certificate not verified (tls insecure)", netloc)
            return {"ssl_context": self._contexts.get(files), "assert_hostname": False}
        return {"ssl_context": self._contexts.get(files)}

    def _settings_for(self, host: str) -> RegistrySettings:
        lookup = self._settings
        if lookup is None:
            settings = RegistrySettings()
        elif isinstance(lookup, Mapping):
            settings = lookup.get(normalize_host(host)) or RegistrySettings()
        else:
            settings = lookup(host)
        if self._tls_override is not None and settings.tls != self._tls_override:
            settings = replace(settings, tls=self._tls_override)
        return settings

    def _fatal(self, url: str, exc: BaseException, problem: str) -> str | None:
        """The one-line message for a failure that another try cannot mend, else None."""
        netloc = urlsplit(url).netloc
        host = netloc.lower()
        proxy = self.proxy_for(url)
        if isinstance(exc, u3.ProxyError) or (proxy is not None and _tunnel_failed(exc)):
            text = _proxy_text(exc)
            if "407" in text:
                return self._proxy_refused(url, text)
            if _refused(exc):
                return (
                    f"{host}: proxy {redact_proxy(proxy or '')} refused the connection "
                    "(is the proxy running? check HTTPS_PROXY/HTTP_PROXY or the registry's proxy)"
                )
            if re.search(r"\b(403|502|503|504)\b", text):
                return (
                    f"{host}: proxy {redact_proxy(proxy or '')} could not reach it ({text}); "
                    "check the name and port, or add it to NO_PROXY if it is reached directly"
                )
            return None
        if _refused(exc):
            return (
                f"{host}: connection refused (nothing listens on {netloc}: is the registry "
                "running, and is the port right?)"
            )
        if _name_unresolved(exc):
            return (
                f"{host}: cannot resolve host name (check the name; if only a proxy reaches it, "
                "set HTTPS_PROXY)"
            )
        cert_error = _find(exc, ssl.SSLCertVerificationError)
        if cert_error is not None:
            return (
                f"{host}: {problem} (trust its CA with 'hoist registry set {host} --ca FILE', "
                "or skip verification with --tls insecure)"
            )
        ssl_error = _find(exc, ssl.SSLError)
        if ssl_error is not None:
            reason = str(getattr(ssl_error, "reason", None) or ssl_error).lower().replace("_", " ")
            if (
                "certificate required" in reason
                or "bad certificate" in reason
                or "handshake failure" in reason
            ):
                return (
                    f"{host}: the registry refused the TLS handshake ({problem}): it wants a "
                    f"client certificate: 'hoist registry set {host} --client-cert FILE "
                    f"--client-key FILE', or put them in /etc/docker/certs.d/{host}/"
                )
            if (
                "wrong version number" in reason
                or "record layer" in reason
                or "unknown protocol" in reason
                or "packet length too long" in reason
            ):
                return (
                    f"{host}: does not speak TLS ({problem}); if it is plain HTTP: "
                    f"'hoist registry set {host} --tls disabled' or --tls disabled"
                )
        return None

    def _proxy_refused(self, url: str, text: str) -> str:
        proxy = self.proxy_for(url) or ""
        has_login = proxy_credentials(proxy) is not None
        fix = (
            "it refused the user and password in the proxy URL"
            if has_login
            else "put them in the proxy URL: http://USER:PASSWORD@HOST:PORT"
        )
        return (
            f"{urlsplit(url).netloc}: proxy {redact_proxy(proxy)} wants credentials ({text}); {fix}"
        )

    def _auth_hint(self, message: str, host: str) -> str:
        """``message`` with the fix for an authentication failure at ``host``."""
        if "hoist registry login" in message:
            return message
        creds = self._auth.credentials(host)
        if creds:
            return f"{message} (check the login: hoist registry login {host})"
        return f"{message} (log in: hoist registry login {host}, or give --creds)"

    def _probing(self, netloc: str, settings: RegistrySettings) -> bool:
        """Whether the first https request to ``netloc`` goes out with the probe context.

        A loopback registry may speak plain HTTP (``_fall_back``); finding that out with a
        context that loads the system's CAs cost every command against one 45 ms, so until
        the host's scheme is known it is asked with a context that trusts nothing
        (:meth:`TLSContexts.probe`): plain HTTP fails at once and falls back, TLS fails on
        its certificate and is asked again, verified (``_probe_met_tls``). Not where a CA
        file replaces the system's: that context is cheap to make."""
        if settings.tls != "enabled" or settings.ca_file is not None or not is_loopback(netloc):
            return False
        with self._lock:
            return _host(netloc) not in self._schemes

    def _probe_met_tls(self, host: str, url: str, exc: BaseException) -> bool:
        """Whether ``exc`` is the probe's handshake failing on a certificate: the host speaks
        TLS, which is remembered, so the request is sent again with the real context."""
        if not url.startswith("https://") or not isinstance(exc, u3.SSLError):
            return False
        if _find(exc, ssl.SSLCertVerificationError) is None:
            return False
        if not self._probing(host, self._settings_for(host)):
            return False
        with self._lock:
            self._schemes.setdefault(_host(host), "https")
        log.debug("%s: speaks TLS; verifying its certificate", host)
        return True

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

    def _first_request(self, host: str, method: str, body: Body) -> threading.Lock | None:
        """Make sure ``host``'s challenge is known before a request, or let this request learn it.

        A GET or HEAD without a body is its own ping: it goes out unauthenticated, a 401 answers
        the challenge and the request is sent again with credentials, so a registry that needs no
        auth costs no ``/v2/`` round trip. Returns the host's ping lock, held, when this request
        is the one to learn it (the caller records what it learnt and releases it); other
        requests to the host wait for it, as they would for a ping.
        """
        if self._auth.known(host):
            return None
        if body is not None or method not in ("GET", "HEAD"):
            self._ensure_ping(host)
            return None
        with self._lock:
            lock = self._ping_locks.setdefault(host, threading.Lock())
        lock.acquire()
        if self._auth.known(host):
            lock.release()
            return None
        return lock

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


def _find(exc: BaseException, kind: type[BaseException]) -> Any:
    """The first exception of ``kind`` in ``exc``'s args, causes and contexts, or None."""
    seen: set[int] = set()
    todo: list[BaseException] = [exc]
    while todo:
        e = todo.pop(0)
        if id(e) in seen:
            continue
        seen.add(id(e))
        if isinstance(e, kind):
            return e
        todo.extend(a for a in e.args if isinstance(a, BaseException))
        todo.extend(c for c in (e.__cause__, e.__context__) if c is not None)
    return None


def _refused(exc: BaseException) -> bool:
    return _find(exc, ConnectionRefusedError) is not None


def _name_unresolved(exc: BaseException) -> bool:
    return _find(exc, u3.NameResolutionError) is not None


def _tunnel_failed(exc: BaseException) -> bool:
    return "tunnel connection failed" in _proxy_text(exc).lower()


def _proxy_text(exc: BaseException) -> str:
    """The proxy's own words in a urllib3 ProxyError (``Tunnel connection failed: 407 ...``)."""
    inner = exc.args[1] if isinstance(exc, u3.ProxyError) and len(exc.args) > 1 else exc
    text = " ".join(str(inner).split())
    return text.removeprefix("Tunnel connection failed: ")


def _prefixed_scope(scope: str, repository: str, prefix: str) -> str:
    """``repository:REPO:pull`` -> ``repository:PREFIX/REPO:pull`` for a mirror."""
    if prefix and scope.startswith(f"repository:{repository}:"):
        return f"repository:{prefix}{scope.removeprefix('repository:')}"
    return scope


def _buffered(response: Response, data: bytes) -> Response:
    """A response like ``response`` whose body is ``data`` (read and checked already)."""
    raw = urllib3.HTTPResponse(
        body=io.BytesIO(data),
        headers=response.headers,
        status=response.status,
        reason=response.reason,
        preload_content=False,
        decode_content=False,
    )
    return Response(raw, response.url, preload=True)


def _where(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.netloc}{parts.path}"


def _read_quietly(raw: urllib3.BaseHTTPResponse) -> bytes:
    try:
        return raw.read(MAX_ERROR_BODY, decode_content=False)
    except (u3.HTTPError, OSError):
        return b""


def _redirect_target(netloc: str, url: str, location: str) -> str:
    """The absolute http(s) URL a redirect's ``Location`` names; TransportError otherwise."""
    try:
        target = urljoin(url, location)
        parts = urlsplit(target)
        _ = parts.port  # raises ValueError when out of range
    except ValueError:
        parts = None
    if parts is None or parts.scheme not in ("http", "https") or not parts.hostname:
        raise TransportError(f"{netloc}: redirect to {location[:200]!r}, which is no http(s) URL")
    return target
