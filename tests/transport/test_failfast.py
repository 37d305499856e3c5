"""What another try cannot mend fails at once, in one line naming the cause and the fix; what a
try can mend (timeouts, 429, 502/503/504, resets mid-body, stalls) is tried again."""

from __future__ import annotations

import socket
import threading
import time
from pathlib import Path
from typing import Any

import pytest
from support.fake_http import Request, self_signed_cert
from support.registry_fixtures import RegistryServer

from hoist.config.credentials import Credentials
from hoist.config.settings import RegistrySettings
from hoist.errors import AuthError, TransportError
from hoist.model.digest import Digest, digest_of
from hoist.transport.http import Transport

PLAIN = RegistrySettings(tls="disabled")


class Static:
    def __init__(self, creds: Credentials | None) -> None:
        self.creds = creds

    def get(self, host: str) -> Credentials | None:
        return self.creds


def make(**kw: Any) -> Transport:
    """Retries that would take seconds if they happened: fail-fast must not use them."""
    opts: dict[str, Any] = {
        "settings": lambda _h: PLAIN,
        "backoff": 0.5,
        "backoff_max": 2.0,
        "retries": 4,
        "connect_timeout": 2.0,
        "read_timeout": 5.0,
        "environ": {},
    }
    opts.update(kw)
    return Transport(**opts)


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _timed(call: Any) -> tuple[BaseException, float]:
    start = time.monotonic()
    with pytest.raises((TransportError, AuthError)) as info:
        call()
    return info.value, time.monotonic() - start


def test_connection_refused(capsys: Any) -> None:
    port = _closed_port()
    with make() as t:
        exc, elapsed = _timed(lambda: t.request("GET", f"127.0.0.1:{port}", "/v2/x"))
    text = str(exc)
    assert "connection refused" in text and "is the registry running" in text
    assert "\n" not in text and elapsed < 1.0


def test_dns_failure() -> None:
    with make() as t:
        exc, elapsed = _timed(lambda: t.request("GET", "registry.hoist.invalid:5000", "/v2/x"))
    text = str(exc)
    assert "registry.hoist.invalid:5000: cannot resolve host name" in text
    assert "check the name" in text and "\n" not in text and elapsed < 1.0


def test_tls_verification_failure(serve: Any, tmp_path: Path) -> None:
    srv = serve(lambda r: r.reply(200), tls=self_signed_cert(tmp_path))
    with make(settings=None) as t:
        exc, elapsed = _timed(lambda: t.request("GET", srv.host, "/v2/x"))
    text = str(exc)
    assert "certificate" in text and "--tls insecure" in text and f"registry set {srv.host}" in text
    assert "\n" not in text and elapsed < 1.0
    assert srv.seen == []  # the handshake failed: no request was ever read


def test_plain_http_server_on_a_remote_name_is_named() -> None:
    """A TLS hello answered in plain HTTP, where no http fallback applies (not loopback)."""
    from hoist.transport.http import Transport as T

    t = T(environ={}, settings=lambda _h: RegistrySettings())
    message = t._fatal(  # the classification alone: no remote plain-HTTP server on loopback
        "https://reg.example:5000/v2/",
        __import__("ssl").SSLError(1, "[SSL: WRONG_VERSION_NUMBER] wrong version number"),
        "TLS: WRONG_VERSION_NUMBER",
    )
    assert message is not None and "does not speak TLS" in message and "--tls disabled" in message


def test_401_after_credentials(registry_basic: RegistryServer) -> None:
    with make(credentials=Static(Credentials("hoist", "wrong"))) as t:
        exc, elapsed = _timed(lambda: t.request("GET", registry_basic.host, "/v2/_catalog"))
    assert isinstance(exc, AuthError)
    text = str(exc)
    assert "401" in text and "as hoist" in text
    assert f"hoist registry login {registry_basic.host}" in text
    assert "wrong" not in text and "\n" not in text and elapsed < 1.0


def test_401_without_credentials_says_log_in(registry_basic: RegistryServer) -> None:
    with make(credentials=Static(None)) as t:
        exc, _ = _timed(lambda: t.request("GET", registry_basic.host, "/v2/_catalog"))
    assert "anonymously" in str(exc) and "log in: hoist registry login" in str(exc)


def test_token_refused_after_credentials(registry_token: RegistryServer) -> None:
    with make(credentials=Static(Credentials("hoist", "wrong"))) as t:
        exc, elapsed = _timed(
            lambda: t.request(
                "GET", registry_token.host, "/v2/a/tags/list", scopes=["repository:a:pull"]
            )
        )
    assert isinstance(exc, AuthError) and "hoist registry login" in str(exc)
    assert elapsed < 1.0


def test_403_after_credentials(serve: Any) -> None:
    def handler(r: Request) -> None:
        if r.header("Authorization"):
            r.error(403, "DENIED", "requested access to the resource is denied")
        else:
            r.reply(401, headers={"WWW-Authenticate": 'Basic realm="x"'})

    srv = serve(handler, ping=False)
    with make(credentials=Static(Credentials("alice", "s3cret"))) as t:
        exc, elapsed = _timed(lambda: t.request("GET", srv.host, "/v2/x/tags/list"))
    text = str(exc)
    assert "denied (403" in text and "as alice" in text and "hoist registry login" in text
    assert "s3cret" not in text and elapsed < 1.0
    # the first try is sent before the challenge is known; the refused credentials once
    sent = [s.header("Authorization") is not None for s in srv.requests("/v2/x/tags/list")]
    assert sent == [False, True]


# -- what stays retried ----------------------------------------------------------------------------


def _quick(**kw: Any) -> Transport:
    return make(backoff=0.01, backoff_max=0.02, **kw)


@pytest.mark.parametrize("status", [429, 502, 503, 504])
def test_transient_statuses_are_retried(serve: Any, status: int) -> None:
    calls = iter(range(100))
    srv = serve(lambda r: r.reply(status) if next(calls) == 0 else r.reply(200, b"ok"))
    with _quick() as t:
        assert t.request("GET", srv.host, "/v2/x").read() == b"ok"
    assert len(srv.requests()) == 2


def test_timeout_is_retried(serve: Any) -> None:
    calls = iter(range(100))

    def handler(r: Request) -> None:
        if next(calls) == 0:
            time.sleep(1.0)  # past the read timeout
        r.reply(200, b"late but fine")

    srv = serve(handler)
    with _quick(read_timeout=0.3) as t:
        assert t.request("GET", srv.host, "/v2/x").read() == b"late but fine"
    assert len(srv.requests()) == 2


def test_reset_mid_body_resumes(serve: Any) -> None:
    data = bytes(range(256)) * 400
    digest = digest_of(data)
    calls = iter(range(100))

    def handler(r: Request) -> None:
        if next(calls) == 0:
            r.cut(200, data[:1000], len(data))
        else:
            start = int((r.header("Range") or "bytes=0-")[6:].rstrip("-"))
            r.reply(
                206, data[start:], {"Content-Range": f"bytes {start}-{len(data) - 1}/{len(data)}"}
            )

    srv = serve(handler)
    with _quick() as t, t.open_blob(srv.host, "/v2/a/blobs/x", digest, len(data)) as b:
        assert b.read() == data


def test_stall_mid_body_resumes(serve: Any) -> None:
    """No byte for ``stall_timeout`` seconds: the read fails and the blob resumes."""
    data = b"s" * 50_000
    digest = Digest.parse(str(digest_of(data)))
    calls = iter(range(100))
    release = threading.Event()

    def handler(r: Request) -> None:
        h = r.handler
        if next(calls) == 0:
            h.send_response(200)
            h.send_header("Content-Length", str(len(data)))
            h.end_headers()
            h.wfile.write(data[:100])
            h.wfile.flush()
            release.wait(5)  # stall
            h.close_connection = True
            return
        start = int((r.header("Range") or "bytes=0-")[6:].rstrip("-"))
        r.reply(206, data[start:], {"Content-Range": f"bytes {start}-{len(data) - 1}/{len(data)}"})

    srv = serve(handler)
    try:
        with _quick(stall_timeout=0.3, read_timeout=5.0) as t:
            start = time.monotonic()
            with t.open_blob(srv.host, "/v2/a/blobs/x", digest, len(data)) as b:
                assert b.read() == data
            assert time.monotonic() - start < 3.0
    finally:
        release.set()
    ranges = [s.header("Range") for s in srv.requests()]
    assert len(ranges) == 2 and ranges[0] is None and (ranges[1] or "").startswith("bytes=")
