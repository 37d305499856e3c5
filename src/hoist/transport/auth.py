"""Registry authentication: WWW-Authenticate parsing, Basic, and Bearer tokens with scope widening.

A Transport owns one :class:`Authenticator`. Per registry host it remembers the challenge (from the
``/v2/`` ping or a 401), the scopes seen per repository, and a cache of tokens keyed by
``(host, realm, service, frozenset(scopes))``. A request that needs more than the scopes seen so
far for a repository (push after pull) gets a token for the union, so one token serves both.

Tokens are cached per registry host as well: a second registry that names the first one's realm
and service never receives the first one's token; it fetches its own, with its own credentials
(anonymously when it has none).
"""

from __future__ import annotations

import base64
import logging
import re
import threading
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from urllib.parse import urlencode

from hoist.config.credentials import CredentialProvider, Credentials
from hoist.errors import AuthError, InvalidInput
from hoist.model.jsonvalue import parse_json
from hoist.transport.response import error_summary

__all__ = [
    "Authenticator",
    "Challenge",
    "TokenFetch",
    "merge_scopes",
    "parse_www_authenticate",
]

log = logging.getLogger(__name__)

TokenFetch = Callable[
    [str, str, Mapping[str, str], bytes | None], tuple[int, Mapping[str, str], bytes]
]
"""``fetch(method, url, headers, body) -> (status, headers, body)``: an unauthenticated HTTP
exchange with retries and redirects, supplied by the Transport."""

_TOKEN = re.compile(r"[!#$%&'*+\-.^_`|~0-9A-Za-z]+")
_TOKEN68 = re.compile(r"[A-Za-z0-9\-._~+/]+=*")
_SPACE = re.compile(r"[ \t]*")
_MIN_LIFETIME = 60
MAX_TOKEN_REPLY = 1 << 20
"""Largest token response read (real ones are a few kB)."""


@dataclass(frozen=True, slots=True)
class Challenge:
    """One challenge of a WWW-Authenticate header: scheme (lowercase), params, or a token68."""

    scheme: str
    params: tuple[tuple[str, str], ...] = ()
    token68: str | None = None

    def get(self, name: str, default: str | None = None) -> str | None:
        """The value of parameter ``name`` (case-insensitive)."""
        name = name.lower()
        return next((v for k, v in self.params if k == name), default)


def parse_www_authenticate(header: str) -> list[Challenge]:
    """Parse a WWW-Authenticate value (RFC 7235): several challenges, quoted strings, token68."""
    parser = _Parser(header)
    challenges: list[Challenge] = []
    while parser.skip_separators():
        scheme = parser.token()
        if scheme is None:  # garbage: skip to the next comma
            parser.skip_to_comma()
            continue
        parser.spaces()
        token68 = parser.token68()
        if token68 is not None:
            challenges.append(Challenge(scheme.lower(), (), token68))
            continue
        params: list[tuple[str, str]] = []
        seen: set[str] = set()
        while parser.at_param():
            name, value = parser.param()
            if name not in seen:
                seen.add(name)
                params.append((name, value))
            parser.spaces()
            if not parser.comma_then_param():
                break
        challenges.append(Challenge(scheme.lower(), tuple(params)))
    return challenges


class _Parser:
    def __init__(self, text: str) -> None:
        self.text = text
        self.pos = 0

    def spaces(self) -> None:
        self.pos = _SPACE.match(self.text, self.pos).end()  # type: ignore[union-attr]

    def skip_separators(self) -> bool:
        """Skip spaces and commas; False at the end."""
        while self.pos < len(self.text) and self.text[self.pos] in " \t,":
            self.pos += 1
        return self.pos < len(self.text)

    def skip_to_comma(self) -> None:
        end = self.text.find(",", self.pos)
        self.pos = len(self.text) if end < 0 else end + 1

    def token(self) -> str | None:
        m = _TOKEN.match(self.text, self.pos)
        if m is None:
            return None
        self.pos = m.end()
        return m.group()

    def token68(self) -> str | None:
        """A token68 when it is all there is up to the next comma or the end."""
        m = _TOKEN68.match(self.text, self.pos)
        if m is None:
            return None
        after = _SPACE.match(self.text, m.end()).end()  # type: ignore[union-attr]
        if after < len(self.text) and self.text[after] != ",":
            return None
        self.pos = after
        return m.group()

    def at_param(self) -> bool:
        """Whether a ``name = value`` starts here."""
        m = _TOKEN.match(self.text, self.pos)
        if m is None:
            return False
        after = _SPACE.match(self.text, m.end()).end()  # type: ignore[union-attr]
        return after < len(self.text) and self.text[after] == "="

    def param(self) -> tuple[str, str]:
        name = self.token() or ""
        self.spaces()
        self.pos += 1  # "="
        self.spaces()
        if self.pos < len(self.text) and self.text[self.pos] == '"':
            return name.lower(), self.quoted()
        return name.lower(), self.token() or ""

    def quoted(self) -> str:
        """A quoted-string; backslash escapes the next character; unclosed runs to the end."""
        out: list[str] = []
        i = self.pos + 1
        while i < len(self.text):
            c = self.text[i]
            if c == "\\" and i + 1 < len(self.text):
                out.append(self.text[i + 1])
                i += 2
                continue
            if c == '"':
                i += 1
                break
            out.append(c)
            i += 1
        self.pos = i
        return "".join(out)

    def comma_then_param(self) -> bool:
        """Move to the next param of the same challenge (after a comma, or only spaces, which
        some servers send); False, without moving, when a new challenge or the end follows."""
        save = self.pos
        self.skip_separators()
        if self.at_param():
            return True
        self.pos = save
        return False


def merge_scopes(scopes: Iterable[str]) -> list[str]:
    """Merge actions per resource, sorted: ``repository:a:pull`` + ``repository:a:push`` ->
    ``repository:a:pull,push``. Scopes that are not ``type:name:actions`` pass through."""
    actions: dict[tuple[str, str], set[str]] = {}
    other: set[str] = set()
    for scope in scopes:
        resource, actions_of = _split_scope(scope)
        if resource is None:
            other.add(scope)
        else:
            actions.setdefault(resource, set()).update(actions_of)
    merged = {f"{t}:{n}:{','.join(sorted(a))}" for (t, n), a in actions.items()}
    return sorted(merged | other)


def _split_scope(scope: str) -> tuple[tuple[str, str] | None, set[str]]:
    kind, sep, rest = scope.partition(":")
    name, sep2, acts = rest.rpartition(":")
    if not (sep and sep2 and kind and name):
        return None, set()
    return (kind, name), {a for a in acts.split(",") if a}


_TokenKey = tuple[str, str, str, frozenset[str]]
"""(registry host, realm, service, scopes): a token belongs to the host it was fetched for."""


@dataclass(frozen=True, slots=True)
class _Token:
    value: str
    expires: float  # on the monotonic clock


class Authenticator:
    """Authorization headers for registry requests; thread-safe.

    The Transport records each host's challenge (:meth:`record`), asks for a header before each
    request (:meth:`authorization`) and reports a 401 (:meth:`challenged`) to learn whether one
    retry with other credentials or a wider token is worth it.
    """

    def __init__(
        self,
        fetch: TokenFetch,
        credentials: CredentialProvider | None = None,
        *,
        client_id: str = "hoist",
        margin: float = 10.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._fetch = fetch
        self._credentials = credentials
        self._client_id = client_id
        self._margin = margin
        self._clock = clock
        self._lock = threading.Lock()
        self._challenges: dict[str, Challenge | None] = {}
        self._creds: dict[str, Credentials | None] = {}
        self._seen: dict[str, dict[tuple[str, str], set[str]]] = {}
        self._tokens: dict[_TokenKey, _Token] = {}
        self._key_locks: dict[_TokenKey, threading.Lock] = {}

    def known(self, host: str) -> bool:
        """Whether ``host``'s challenge (or that it needs none) is known."""
        with self._lock:
            return host in self._challenges

    def challenge(self, host: str) -> Challenge | None:
        """``host``'s challenge as recorded (None: it needs no auth, or is not known yet)."""
        with self._lock:
            return self._challenges.get(host)

    def record(self, host: str, header: str | None) -> None:
        """Record what the ``/v2/`` ping answered: a WWW-Authenticate value, or None for no auth."""
        challenge = _pick(parse_www_authenticate(header)) if header else None
        with self._lock:
            self._challenges[host] = challenge
        log.debug("%s: challenge %s", host, challenge)

    def credentials(self, host: str) -> Credentials | None:
        """The credentials for ``host`` (asked of the provider once)."""
        with self._lock:
            if host in self._creds:
                return self._creds[host]
        creds = self._credentials.get(host) if self._credentials is not None else None
        with self._lock:
            self._creds[host] = creds
        return creds

    def describe(self, host: str) -> str:
        """``as <user>`` or ``anonymously``, for error messages."""
        creds = self.credentials(host)
        if not creds:
            return "anonymously (no credentials)"
        return creds.describe()

    def authorization(self, host: str, scopes: Sequence[str]) -> str | None:
        """The Authorization header value for a request to ``host`` needing ``scopes``, or None."""
        with self._lock:
            challenge = self._challenges.get(host)
        if challenge is None:
            return None
        given = self.credentials(host)
        if given is not None and given.registry_token:
            return "Bearer " + given.registry_token  # a token for the registry, sent as it is
        if challenge.scheme == "basic":
            creds = self.credentials(host)
            if creds is None or not (creds.username or creds.password):
                return None
            return _basic(creds)
        return "Bearer " + self._token(host, challenge, self._widen(host, scopes))

    def challenged(
        self, host: str, scopes: Sequence[str], header: str | None, sent: str | None
    ) -> list[str] | None:
        """React to a 401 that carried ``header`` after ``sent`` was sent as Authorization.

        Returns the scopes to retry with (once), or None when another try cannot help.
        """
        challenge = _pick(parse_www_authenticate(header or ""))
        if challenge is None:
            return None
        with self._lock:
            self._challenges[host] = challenge
        given = self.credentials(host)
        if given is not None and given.registry_token:
            if sent is None:
                return list(scopes)  # the first request, sent before the challenge was known
            return None  # the registry refused the token it was given; another try cannot help
        if challenge.scheme == "basic":
            if sent is not None and sent.lower().startswith("basic "):
                return None  # the credentials were refused
            return list(scopes) if self.authorization(host, scopes) else None
        extra = (challenge.get("scope") or "").split()
        if sent is not None and sent.lower().startswith("bearer "):
            stale = sent[7:]
            with self._lock:
                for key in [
                    k for k, t in self._tokens.items() if k[0] == host and t.value == stale
                ]:
                    del self._tokens[key]
        if extra:
            log.debug("%s: challenge asks for %s", host, extra)
        return merge_scopes([*scopes, *extra])

    def _widen(self, host: str, scopes: Sequence[str]) -> list[str]:
        """``scopes`` with every action seen before for the same resources on ``host``."""
        with self._lock:
            seen = self._seen.setdefault(host, {})
            out: list[str] = []
            for scope in scopes:
                resource, actions = _split_scope(scope)
                if resource is None:
                    out.append(scope)
                    continue
                known = seen.setdefault(resource, set())
                known.update(actions)
                out.append(f"{resource[0]}:{resource[1]}:{','.join(sorted(known))}")
        return merge_scopes(out)

    def _token(self, host: str, challenge: Challenge, scopes: list[str]) -> str:
        realm = challenge.get("realm")
        if not realm:
            raise AuthError(f"{host}: bearer challenge without a realm")
        service = challenge.get("service") or ""
        key: _TokenKey = (host, realm, service, frozenset(scopes))
        with self._lock:
            lock = self._key_locks.setdefault(key, threading.Lock())
        with lock:
            with self._lock:
                cached = self._tokens.get(key)
            if cached is not None and cached.expires > self._clock():
                return cached.value
            token = self._request_token(host, realm, service, scopes)
            with self._lock:
                self._tokens[key] = token
            return token.value

    def _request_token(self, host: str, realm: str, service: str, scopes: list[str]) -> _Token:
        creds = self.credentials(host)
        log.debug("%s: token from %s for %s", host, realm, scopes)
        if creds is not None and creds.identity_token:
            form = [
                ("grant_type", "refresh_token"),
                ("refresh_token", creds.identity_token),
                ("service", service),
                ("client_id", self._client_id),
            ]
            if scopes:
                form.append(("scope", " ".join(scopes)))
            headers = {"Content-Type": "application/x-www-form-urlencoded"}
            status, _, body = self._fetch("POST", realm, headers, urlencode(form).encode())
        else:
            query = ([("service", service)] if service else []) + [("scope", s) for s in scopes]
            url = realm + ("&" if "?" in realm else "?") + urlencode(query) if query else realm
            basic = creds is not None and (creds.username or creds.password)
            headers = {"Authorization": _basic(creds)} if basic and creds else {}
            status, _, body = self._fetch("GET", url, headers, None)
        if status != 200:
            raise AuthError(
                f"{host}: token request to {realm} failed {self.describe(host)}: "
                f"HTTP {status}: {error_summary(body)}".rstrip(": ")
            )
        return self._parse_token(host, realm, body)

    def _parse_token(self, host: str, realm: str, body: bytes) -> _Token:
        try:
            data: Any = parse_json(body, what="token response", max_size=MAX_TOKEN_REPLY)
        except InvalidInput as exc:
            raise AuthError(f"{host}: {exc} (from {realm})") from None
        if not isinstance(data, dict):
            raise AuthError(f"{host}: token response from {realm} is not a JSON object")
        value = data.get("token") or data.get("access_token")
        if not isinstance(value, str) or not value:
            raise AuthError(f"{host}: token response from {realm} has no token")
        try:
            lifetime = max(int(data.get("expires_in") or _MIN_LIFETIME), _MIN_LIFETIME)
        except (TypeError, ValueError, OverflowError):
            lifetime = _MIN_LIFETIME
        age = 0.0
        issued = data.get("issued_at")
        if isinstance(issued, str) and issued:
            try:
                age = time.time() - datetime.fromisoformat(issued).timestamp()
            except ValueError:
                log.debug("%s: unparsable issued_at %r", realm, issued)
        # a skewed clock must neither stretch a token's life nor have every request fetch one
        age = min(max(age, 0.0), lifetime / 2)
        margin = min(self._margin, lifetime / 2)
        return _Token(value, self._clock() + lifetime - age - margin)


def _pick(challenges: list[Challenge]) -> Challenge | None:
    """Bearer if offered, else Basic; other schemes are not supported."""
    for scheme in ("bearer", "basic"):
        for challenge in challenges:
            if challenge.scheme == scheme:
                return challenge
    return None


def _basic(creds: Credentials) -> str:
    raw = f"{creds.username}:{creds.password}".encode()
    return "Basic " + base64.b64encode(raw).decode()
