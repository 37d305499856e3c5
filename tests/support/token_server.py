"""A small Docker token-auth server (bearer tokens for ``registry_token``).

Implements the parts of the distribution token specs that clients use:

* ``GET /token?service=S&scope=...&scope=...`` with optional Basic auth
  (https://distribution.github.io/distribution/spec/auth/token/), and
* ``POST /token`` with an OAuth2 form, ``grant_type=password`` or
  ``grant_type=refresh_token``
  (https://distribution.github.io/distribution/spec/auth/oauth/).

Tokens are ES256 JWTs signed with a P-256 key generated at start. The registry
trusts them through ``rootcertbundle`` (a self-signed certificate of that key,
see :attr:`TokenServer.cert_pem`); the JWT header's ``kid`` is the libtrust key
id of the key, which is what distribution 2.8 matches against the bundle.
"""

from __future__ import annotations

import base64
import binascii
import datetime
import hashlib
import json
import secrets
import threading
import time
import urllib.parse
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType
from typing import Any

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.utils import decode_dss_signature
from cryptography.x509.oid import NameOID

SERVICE = "hoist-test"
ISSUER = "hoist-test-issuer"

#: Actions each kind of client may get, per resource type ("*" = any type).
ANONYMOUS_ACTIONS = frozenset({"pull"})
USER_ACTIONS = frozenset({"pull", "push", "delete", "*"})


def b64url(data: bytes) -> str:
    """Base64url without padding, as used by JWS."""
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def b64url_decode(text: str) -> bytes:
    """Inverse of :func:`b64url` (tolerates missing padding)."""
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def libtrust_key_id(public_key: ec.EllipticCurvePublicKey) -> str:
    """The libtrust key id: base32 of SHA-256(DER SPKI)[:30], in groups of 4 joined by ':'."""
    der = public_key.public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    encoded = base64.b32encode(hashlib.sha256(der).digest()[:30]).decode("ascii").rstrip("=")
    return ":".join(encoded[i : i + 4] for i in range(0, len(encoded), 4))


def parse_scope(scope: str) -> dict[str, Any] | None:
    """Parse ``type:name:actions`` (the name may contain ':', e.g. a port)."""
    rtype, sep, rest = scope.partition(":")
    name, sep2, actions = rest.rpartition(":")
    if not sep or not sep2 or not rtype or not name:
        return None
    return {"type": rtype, "name": name, "actions": [a for a in actions.split(",") if a]}


@dataclass
class TokenRequest:
    """One request the token server answered (or refused)."""

    method: str
    #: Scopes as requested, one ``type:name:actions`` string each.
    scopes: list[str]
    #: True when valid credentials (password or refresh token) were presented.
    authenticated: bool
    #: Username presented (Basic auth or form), even when the password was wrong.
    username: str | None
    #: ``None`` for GET, else the OAuth2 ``grant_type``.
    grant_type: str | None
    service: str | None
    status: int
    #: The ``access`` claim of the issued token (empty when refused).
    granted: list[dict[str, Any]] = field(default_factory=list)
    #: Whether a refresh token was handed out.
    refresh_token_issued: bool = False

    def actions_for(self, repository: str) -> set[str]:
        """Actions requested for a repository in this request."""
        wanted: set[str] = set()
        for scope in self.scopes:
            parsed = parse_scope(scope)
            if parsed and parsed["type"] == "repository" and parsed["name"] == repository:
                wanted.update(parsed["actions"])
        return wanted


class TokenServer:
    """Threaded token server on a free loopback port; use as a context manager or start/stop.

    ``requests`` records every token request (see :class:`TokenRequest`).
    ``anonymous_actions`` / ``user_actions`` may be changed by tests.
    """

    def __init__(
        self,
        username: str = "hoist",
        password: str = "hoist-secret",
        *,
        service: str = SERVICE,
        issuer: str = ISSUER,
        expires_in: int = 300,
    ) -> None:
        self.username = username
        self.password = password
        self.service = service
        self.issuer = issuer
        self.expires_in = expires_in
        self.anonymous_actions: frozenset[str] = ANONYMOUS_ACTIONS
        self.user_actions: frozenset[str] = USER_ACTIONS
        self.requests: list[TokenRequest] = []
        self.refresh_tokens: dict[str, str] = {}
        self._lock = threading.Lock()
        self.key = ec.generate_private_key(ec.SECP256R1())
        self.kid = libtrust_key_id(self.key.public_key())
        self.cert_pem = self._self_signed_cert()
        self._httpd: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None

    # -- lifecycle ---------------------------------------------------------

    def start(self) -> TokenServer:
        """Bind 127.0.0.1:0 and serve in a daemon thread."""
        server = self

        class Handler(_TokenHandler):
            token_server = server

        self._httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._httpd.daemon_threads = True
        self._thread = threading.Thread(
            target=self._httpd.serve_forever, name="token-server", daemon=True
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        """Shut the server down and close its socket."""
        if self._httpd is not None:
            self._httpd.shutdown()
            self._httpd.server_close()
            self._httpd = None
        if self._thread is not None:
            self._thread.join(timeout=10)
            self._thread = None

    def __enter__(self) -> TokenServer:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    @property
    def port(self) -> int:
        assert self._httpd is not None, "token server not started"
        return int(self._httpd.server_address[1])

    @property
    def realm(self) -> str:
        """The ``realm`` URL for the registry's ``auth.token`` config."""
        return f"http://127.0.0.1:{self.port}/token"

    def clear(self) -> None:
        """Forget recorded requests."""
        with self._lock:
            self.requests.clear()

    def record(self, request: TokenRequest) -> None:
        with self._lock:
            self.requests.append(request)

    # -- tokens ------------------------------------------------------------

    def _self_signed_cert(self) -> bytes:
        name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "hoist-test-token-signer")])
        now = datetime.datetime.now(datetime.UTC)
        cert = (
            x509.CertificateBuilder()
            .subject_name(name)
            .issuer_name(name)
            .public_key(self.key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - datetime.timedelta(days=1))
            .not_valid_after(now + datetime.timedelta(days=3650))
            .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
            .sign(self.key, hashes.SHA256())
        )
        return cert.public_bytes(serialization.Encoding.PEM)

    def grant(self, scopes: list[str], authenticated: bool) -> list[dict[str, Any]]:
        """The ``access`` claim for requested scopes under the access policy."""
        allowed = self.user_actions if authenticated else self.anonymous_actions
        access: list[dict[str, Any]] = []
        for scope in scopes:
            parsed = parse_scope(scope)
            if parsed is None:
                continue
            actions = [a for a in parsed["actions"] if a in allowed]
            if actions:
                access.append({**parsed, "actions": actions})
        return access

    def sign(self, claims: dict[str, Any]) -> str:
        """An ES256 compact JWS of ``claims``."""
        header = {"typ": "JWT", "alg": "ES256", "kid": self.kid}
        signing_input = (
            b64url(json.dumps(header, separators=(",", ":")).encode())
            + "."
            + b64url(json.dumps(claims, separators=(",", ":")).encode())
        )
        der = self.key.sign(signing_input.encode("ascii"), ec.ECDSA(hashes.SHA256()))
        r, s = decode_dss_signature(der)
        return signing_input + "." + b64url(r.to_bytes(32, "big") + s.to_bytes(32, "big"))

    def issue(
        self, subject: str, service: str | None, access: list[dict[str, Any]]
    ) -> tuple[str, dict[str, Any]]:
        """Sign a token; returns (jwt, claims)."""
        now = int(time.time())
        claims: dict[str, Any] = {
            "iss": self.issuer,
            "sub": subject,
            "aud": service or self.service,
            "exp": now + self.expires_in,
            "nbf": now - 10,
            "iat": now,
            "jti": secrets.token_hex(16),
            "access": access,
        }
        return self.sign(claims), claims

    def new_refresh_token(self, username: str) -> str:
        token = secrets.token_urlsafe(24)
        with self._lock:
            self.refresh_tokens[token] = username
        return token


def decode_jwt(token: str) -> tuple[dict[str, Any], dict[str, Any]]:
    """(header, claims) of a JWT, without verification (for assertions in tests)."""
    header, payload, _sig = token.split(".")
    return json.loads(b64url_decode(header)), json.loads(b64url_decode(payload))


class _TokenHandler(BaseHTTPRequestHandler):
    token_server: TokenServer
    protocol_version = "HTTP/1.1"
    server_version = "hoist-test-token/1"

    def log_message(self, format: str, *args: Any) -> None:
        pass

    def _send_json(self, status: int, body: dict[str, Any], *, basic: bool = False) -> None:
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        if basic and status == 401:
            self.send_header("WWW-Authenticate", 'Basic realm="hoist-test-token"')
        self.end_headers()
        self.wfile.write(data)

    def _basic_credentials(self) -> tuple[str, str] | None:
        header = self.headers.get("Authorization", "")
        scheme, _, value = header.partition(" ")
        if scheme.lower() != "basic":
            return None
        try:
            user, _, password = base64.b64decode(value.strip()).decode().partition(":")
        except (binascii.Error, UnicodeDecodeError):
            return ("", "\0invalid")
        return user, password

    def _path_ok(self) -> tuple[bool, dict[str, list[str]]]:
        url = urllib.parse.urlsplit(self.path)
        return url.path == "/token", urllib.parse.parse_qs(url.query)

    def _check_password(self, user: str, password: str) -> bool:
        ts = self.token_server
        return secrets.compare_digest(user, ts.username) and secrets.compare_digest(
            password, ts.password
        )

    def _answer(
        self,
        method: str,
        grant_type: str | None,
        service: str | None,
        scopes: list[str],
        username: str | None,
        authenticated: bool,
        *,
        refresh: bool,
        oauth: bool,
    ) -> None:
        ts = self.token_server
        access = ts.grant(scopes, authenticated)
        token, claims = ts.issue(username if authenticated and username else "", service, access)
        body: dict[str, Any] = {
            "token": token,
            "access_token": token,
            "expires_in": ts.expires_in,
            "issued_at": datetime.datetime.fromtimestamp(claims["iat"], datetime.UTC)
            .isoformat()
            .replace("+00:00", "Z"),
        }
        if oauth:
            body["scope"] = " ".join(scopes)
        issued_refresh = refresh and authenticated and username is not None
        if issued_refresh:
            assert username is not None
            body["refresh_token"] = ts.new_refresh_token(username)
        ts.record(
            TokenRequest(
                method=method,
                scopes=scopes,
                authenticated=authenticated,
                username=username,
                grant_type=grant_type,
                service=service,
                status=200,
                granted=access,
                refresh_token_issued=issued_refresh,
            )
        )
        self._send_json(200, body)

    def _refuse(
        self,
        status: int,
        error: str,
        method: str,
        grant_type: str | None,
        service: str | None,
        scopes: list[str],
        username: str | None,
    ) -> None:
        self.token_server.record(
            TokenRequest(
                method=method,
                scopes=scopes,
                authenticated=False,
                username=username,
                grant_type=grant_type,
                service=service,
                status=status,
            )
        )
        self._send_json(status, {"error": error}, basic=method == "GET")

    def do_GET(self) -> None:
        ok, query = self._path_ok()
        if not ok:
            self._send_json(404, {"error": "not found"})
            return
        scopes = [s for value in query.get("scope", []) for s in value.split()]
        service = query.get("service", [None])[0]
        creds = self._basic_credentials()
        username = creds[0] if creds else None
        if creds is not None and not self._check_password(*creds):
            self._refuse(401, "invalid credentials", "GET", None, service, scopes, username)
            return
        offline = query.get("offline_token", ["false"])[0].lower() == "true"
        self._answer(
            "GET", None, service, scopes, username, creds is not None, refresh=offline, oauth=False
        )

    def do_POST(self) -> None:
        ok, _query = self._path_ok()
        length = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(length).decode("utf-8", "replace") if length else ""
        if not ok:
            self._send_json(404, {"error": "not found"})
            return
        form = urllib.parse.parse_qs(raw)

        def get(name: str) -> str | None:
            return form.get(name, [None])[0]

        grant_type = get("grant_type")
        service = get("service")
        scopes = [s for value in form.get("scope", []) for s in value.split()]
        offline = get("access_type") == "offline"
        ts = self.token_server
        if grant_type == "password":
            username, password = get("username"), get("password")
            if username is None or password is None:
                self._refuse(400, "invalid_request", "POST", grant_type, service, scopes, username)
                return
            if not self._check_password(username, password):
                self._refuse(401, "invalid_grant", "POST", grant_type, service, scopes, username)
                return
            self._answer(
                "POST", grant_type, service, scopes, username, True, refresh=True, oauth=True
            )
        elif grant_type == "refresh_token":
            with ts._lock:
                username = ts.refresh_tokens.get(get("refresh_token") or "")
            if username is None:
                self._refuse(401, "invalid_grant", "POST", grant_type, service, scopes, None)
                return
            self._answer(
                "POST", grant_type, service, scopes, username, True, refresh=offline, oauth=True
            )
        else:
            self._refuse(400, "unsupported_grant_type", "POST", grant_type, service, scopes, None)
