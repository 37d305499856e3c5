"""A small scriptable HTTP server for transport tests: faults no real registry makes on demand.

``FakeServer(handler)`` serves on 127.0.0.1 (or another loopback address) in a thread; each request
is recorded and handed to ``handler(req)``, which answers with ``req.reply(...)`` or writes raw
bytes. ``GET /v2/`` answers 200 unless ``ping=False`` (the handler then sees it too). ``tls``
(cert, key) serves https.
"""

from __future__ import annotations

import json
import ssl
import threading
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from types import TracebackType
from typing import Any
from urllib.parse import parse_qsl, urlsplit

import pytest


@dataclass
class Seen:
    """A request the server received."""

    method: str
    path: str
    query: list[tuple[str, str]]
    headers: dict[str, str]
    body: bytes = b""
    extra: dict[str, Any] = field(default_factory=dict)

    def header(self, name: str) -> str | None:
        return next((v for k, v in self.headers.items() if k.lower() == name.lower()), None)


class Request:
    """What a handler gets: the request, and ways to answer."""

    def __init__(self, handler: BaseHTTPRequestHandler, seen: Seen, server: FakeServer) -> None:
        self.handler = handler
        self.seen = seen
        self.server = server
        self.method, self.path = seen.method, seen.path

    def header(self, name: str) -> str | None:
        return self.seen.header(name)

    def reply(
        self,
        status: int,
        body: bytes | str | dict[str, Any] = b"",
        headers: Mapping[str, str] | None = None,
        *,
        length: int | None = None,
    ) -> None:
        """Answer with ``body`` (a dict is sent as JSON); ``length`` overrides Content-Length."""
        if isinstance(body, dict):
            body = json.dumps(body).encode()
            headers = {"Content-Type": "application/json", **(headers or {})}
        elif isinstance(body, str):
            body = body.encode()
        h = self.handler
        h.send_response(status)
        for k, v in (headers or {}).items():
            h.send_header(k, v)
        h.send_header("Content-Length", str(len(body) if length is None else length))
        h.end_headers()
        if self.method != "HEAD":
            h.wfile.write(body)
        h.wfile.flush()

    def error(self, status: int, code: str, message: str, **headers: str) -> None:
        """A registry error body."""
        self.reply(
            status, {"errors": [{"code": code, "message": message, "detail": None}]}, headers
        )

    def cut(
        self, status: int, body: bytes, declared: int, headers: Mapping[str, str] | None = None
    ) -> None:
        """Declare ``declared`` bytes, send ``body`` (fewer), then drop the connection."""
        h = self.handler
        h.send_response(status)
        for k, v in (headers or {}).items():
            h.send_header(k, v)
        h.send_header("Content-Length", str(declared))
        h.end_headers()
        h.wfile.write(body)
        h.wfile.flush()
        h.close_connection = True
        h.connection.shutdown(2)


Handler = Callable[[Request], None]


class FakeServer:
    """A ThreadingHTTPServer in a thread; ``host`` is ``ADDR:PORT``; ``seen`` lists requests."""

    def __init__(
        self,
        handler: Handler,
        *,
        address: str = "127.0.0.1",
        ping: bool = True,
        tls: tuple[Path, Path] | None = None,
    ) -> None:
        self.handler = handler
        self.ping = ping
        self.seen: list[Seen] = []
        self.lock = threading.Lock()
        server = self

        class _Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, format: str, *args: Any) -> None:
                pass

            def _any(self) -> None:
                parts = urlsplit(self.path)
                length = int(self.headers.get("Content-Length") or 0)
                if self.headers.get("Transfer-Encoding", "").lower() == "chunked":
                    body = _read_chunked(self)
                else:
                    body = self.rfile.read(length) if length else b""
                seen = Seen(
                    self.command, parts.path, parse_qsl(parts.query), dict(self.headers), body
                )
                with server.lock:
                    server.seen.append(seen)
                req = Request(self, seen, server)
                if server.ping and self.command == "GET" and parts.path == "/v2/":
                    req.reply(200, {})
                    return
                server.handler(req)

            do_GET = do_HEAD = do_POST = do_PUT = do_PATCH = do_DELETE = _any

        self.httpd = _Quiet((address, 0), _Handler)
        self.httpd.daemon_threads = True
        if tls is not None:
            context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
            context.load_cert_chain(*tls)
            self.httpd.socket = context.wrap_socket(self.httpd.socket, server_side=True)
        self.host = f"{address}:{self.httpd.server_port}"
        self.thread = threading.Thread(
            target=self.httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )
        self.thread.start()

    def requests(self, path: str | None = None) -> list[Seen]:
        """Requests received, except pings; only those to ``path`` when given."""
        with self.lock:
            return [s for s in self.seen if s.path != "/v2/" and path in (None, s.path)]

    def close(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()

    def __enter__(self) -> FakeServer:
        return self

    def __exit__(
        self, t: type[BaseException] | None, e: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()


class _Quiet(ThreadingHTTPServer):
    """Clients that hang up mid-answer are expected here; don't print their tracebacks."""

    def handle_error(self, request: Any, client_address: Any) -> None:
        import sys

        if not isinstance(sys.exc_info()[1], OSError):
            super().handle_error(request, client_address)


def _read_chunked(h: BaseHTTPRequestHandler) -> bytes:
    parts: list[bytes] = []
    while True:
        size = int(h.rfile.readline().split(b";")[0].strip(), 16)
        if size == 0:
            while h.rfile.readline() not in (b"\r\n", b"\n", b""):
                pass
            return b"".join(parts)
        parts.append(h.rfile.read(size))
        h.rfile.readline()


def self_signed_cert(directory: Path, address: str = "127.0.0.1") -> tuple[Path, Path]:
    """A self-signed certificate for ``address`` (an IP SAN); returns (cert.pem, key.pem)."""
    import datetime
    import ipaddress

    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, address)])
    now = datetime.datetime.now(datetime.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(
            x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address(address))]),
            critical=False,
        )
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    cert_path, key_path = directory / "cert.pem", directory / "key.pem"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return cert_path, key_path


@pytest.fixture
def serve() -> Iterator[Callable[..., FakeServer]]:
    """Start fake servers with ``serve(handler, **FakeServer options)``; all closed after."""
    started: list[FakeServer] = []

    def start(handler: Any, **kw: Any) -> FakeServer:
        server = FakeServer(handler, **kw)
        started.append(server)
        return server

    yield start
    for server in started:
        server.close()
