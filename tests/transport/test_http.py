"""Transport against a fault-injecting server on loopback: retries, redirects, resume, TLS."""

from __future__ import annotations

import hashlib
import io
import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from support.fake_http import Request, self_signed_cert

from hoist.config.credentials import Credentials
from hoist.config.settings import RegistrySettings, is_loopback
from hoist.errors import AuthError, DigestMismatch, ErrorCode, RegistryError, TransportError
from hoist.model.digest import CHUNK, Digest, digest_of
from hoist.transport.http import Transport, parse_retry_after

PLAIN = RegistrySettings(tls="disabled")


def plain(_host: str) -> RegistrySettings:
    return PLAIN


def make(**kw: Any) -> Transport:
    """A transport with short waits, reaching every host over plain http."""
    opts: dict[str, Any] = {
        "settings": plain,
        "backoff": 0.01,
        "backoff_max": 0.05,
        "retries": 3,
        "retry_time": 10.0,
        "connect_timeout": 2.0,
        "read_timeout": 5.0,
    }
    opts.update(kw)
    return Transport(**opts)


class Static:
    """A credential provider with one answer for every host."""

    def __init__(self, creds: Credentials | None) -> None:
        self.creds = creds
        self.asked: list[str] = []

    def get(self, host: str) -> Credentials | None:
        self.asked.append(host)
        return self.creds


def counter() -> Iterator[int]:
    n = 0
    while True:
        yield n
        n += 1


# -- plain requests ------------------------------------------------------------------------------


def test_get_headers_query_and_body(serve: Any) -> None:
    srv = serve(lambda r: r.reply(200, b'{"ok": true}', {"X-Thing": "yes"}))
    with make() as t:
        r = t.request(
            "GET", srv.host, "/v2/a/tags/list", query=[("n", "1"), ("last", "b"), ("n", "2")]
        )
    assert r.status == 200 and r.read() == b'{"ok": true}' and r.read() == b""
    assert r.headers["x-thing"] == "yes"
    assert r.url == f"http://{srv.host}/v2/a/tags/list?n=1&last=b&n=2"
    assert srv.requests()[0].query == [("n", "1"), ("last", "b"), ("n", "2")]
    assert (srv.requests()[0].header("User-Agent") or "").startswith("hoist/")


def test_stream_in_chunks(serve: Any) -> None:
    data = bytes(range(256)) * 10_000
    srv = serve(lambda r: r.reply(200, data))
    with make() as t, t.request("GET", srv.host, "/blob", stream=True) as r:
        assert r.content_length == len(data)
        chunks = list(r.stream(100_000))
    assert b"".join(chunks) == data and max(map(len, chunks)) <= 100_000


@pytest.mark.parametrize(
    "body",
    [
        b"x" * 3_000_000,
        bytearray(b"y" * 10),
        io.BytesIO(b"z" * 3_000_000),
        [b"a" * 100, b"b" * 100],
        iter([b"c" * CHUNK, b"d" * 5]),
    ],
    ids=["bytes", "bytearray", "file", "list", "iterator"],
)
def test_upload_bodies(serve: Any, body: Any) -> None:
    srv = serve(lambda r: r.reply(201))
    expected = (
        bytes(body)
        if isinstance(body, bytes | bytearray)
        else body.getvalue()
        if isinstance(body, io.BytesIO)
        else None
    )
    if isinstance(body, list):
        expected = b"".join(body)
    with make() as t:
        t.request("PUT", srv.host, "/up", body=body, expect=(201,))
    got = srv.requests()[0]
    if expected is None:
        assert got.body == b"c" * CHUNK + b"d" * 5
        assert got.header("Transfer-Encoding") == "chunked"
    else:
        assert got.body == expected
    if isinstance(body, io.BytesIO):
        assert got.header("Content-Length") == str(len(expected or b""))


# -- errors --------------------------------------------------------------------------------------


def test_registry_error_body(serve: Any) -> None:
    srv = serve(lambda r: r.error(404, "MANIFEST_UNKNOWN", "manifest unknown"))
    with make() as t, pytest.raises(RegistryError) as info:
        t.request("GET", srv.host, "/v2/app/manifests/latest")
    err = info.value
    assert (err.code, err.message, err.status) == ("MANIFEST_UNKNOWN", "manifest unknown", 404)
    assert err.code is ErrorCode.MANIFEST_UNKNOWN
    assert err.where == f"GET {srv.host}/v2/app/manifests/latest"


def test_head_404_has_status_and_no_code(serve: Any) -> None:
    srv = serve(lambda r: r.reply(404))
    with make() as t:
        with pytest.raises(RegistryError) as info:
            t.request("HEAD", srv.host, "/v2/app/blobs/sha256:00")
        assert info.value.status == 404 and info.value.code is None
        assert str(info.value).startswith("HTTP 404")
        r = t.request("HEAD", srv.host, "/v2/app/blobs/sha256:00", expect=(200, 404))
        assert r.status == 404


def test_connection_refused_is_one_line(serve: Any) -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    with make(retries=1) as t, pytest.raises(TransportError) as info:
        t.request("GET", f"127.0.0.1:{port}", "/v2/x")
    text = str(info.value)
    assert f"127.0.0.1:{port}" in text and "connection refused" in text.lower()
    assert "\n" not in text


# -- retries -------------------------------------------------------------------------------------


def test_429_retry_after_is_honoured(serve: Any) -> None:
    n = counter()

    def handler(r: Request) -> None:
        if next(n) == 0:
            r.error(429, "TOOMANYREQUESTS", "slow down", **{"Retry-After": "1"})
        else:
            r.reply(200, b"ok")

    srv = serve(handler)
    with make() as t:
        start = time.monotonic()
        assert t.request("GET", srv.host, "/v2/x").read() == b"ok"
    assert time.monotonic() - start >= 1.0
    assert len(srv.requests()) == 2


def test_retry_after_is_capped(serve: Any) -> None:
    n = counter()
    srv = serve(
        lambda r: r.reply(503, headers={"Retry-After": "30"}) if next(n) == 0 else r.reply(200)
    )
    with make(retry_after_max=0.1) as t:
        start = time.monotonic()
        t.request("GET", srv.host, "/v2/x")
    assert time.monotonic() - start < 5


def test_503_twice_then_success(serve: Any) -> None:
    n = counter()
    srv = serve(lambda r: r.reply(503) if next(n) < 2 else r.reply(200, b"fine"))
    with make() as t:
        assert t.request("GET", srv.host, "/v2/x").read() == b"fine"
    assert len(srv.requests()) == 3


def test_retry_budget_exhausted(serve: Any) -> None:
    srv = serve(lambda r: r.error(503, "UNAVAILABLE", "service\nunavailable"))
    with make(retries=2) as t, pytest.raises(TransportError) as info:
        t.request("GET", srv.host, "/v2/x/manifests/1")
    text = str(info.value)
    assert "\n" not in text
    assert srv.host in text and "503" in text and "UNAVAILABLE" in text and "3 attempts" in text
    assert len(srv.requests()) == 3


def test_retry_time_budget(serve: Any) -> None:
    srv = serve(lambda r: r.reply(503, headers={"Retry-After": "2"}))
    with make(retry_time=0.5, retries=10) as t, pytest.raises(TransportError):
        start = time.monotonic()
        t.request("GET", srv.host, "/v2/x")
    assert time.monotonic() - start < 1.5
    assert len(srv.requests()) == 1


def test_one_shot_body_is_not_retried(serve: Any) -> None:
    srv = serve(lambda r: r.error(503, "UNAVAILABLE", "busy"))
    with make() as t, pytest.raises(RegistryError) as info:
        t.request("PATCH", srv.host, "/up", body=iter([b"abc"]), expect=(202,))
    assert info.value.status == 503
    assert len(srv.requests()) == 1


def test_seekable_body_is_replayed(serve: Any) -> None:
    n = counter()
    srv = serve(lambda r: r.reply(503) if next(n) == 0 else r.reply(201))
    body = io.BytesIO(b"0123456789")
    body.seek(2)
    with make() as t:
        t.request("PUT", srv.host, "/up", body=body, expect=(201,))
    assert [s.body for s in srv.requests()] == [b"23456789", b"23456789"]


def test_parse_retry_after() -> None:
    assert parse_retry_after("3") == 3.0
    assert parse_retry_after(None) is None and parse_retry_after("soon") is None
    assert parse_retry_after("Wed, 21 Oct 2015 07:28:00 GMT") == 0.0
    later = time.strftime("%a, %d %b %Y %H:%M:%S GMT", time.gmtime(time.time() + 100))
    assert 95 < (parse_retry_after(later) or 0) <= 100


# -- auth and redirects --------------------------------------------------------------------------


def basic_registry(user: str = "alice", password: str = "secret") -> Any:
    import base64

    good = "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()

    def handler(r: Request) -> None:
        if r.header("Authorization") != good:
            r.error(
                401,
                "UNAUTHORIZED",
                "authentication required",
                **{"WWW-Authenticate": 'Basic realm="x"'},
            )
        elif r.path == "/v2/app/blobs/sha256:1":
            r.reply(307, headers={"Location": r.server.redirect_to})  # type: ignore[attr-defined]
        else:
            r.reply(200, b"ok")

    return handler


def test_basic_auth(serve: Any) -> None:
    srv = serve(basic_registry(), ping=False)
    creds = Static(Credentials("alice", "secret"))
    with make(credentials=creds) as t:
        for _ in range(3):
            assert t.request("GET", srv.host, "/v2/app/tags/list").read() == b"ok"
    # no /v2/ ping: the first request learns the challenge, then every request carries it
    assert [s.path for s in srv.seen] == ["/v2/app/tags/list"] * 4
    assert [s.header("Authorization") is not None for s in srv.seen] == [False, True, True, True]
    assert creds.asked == [srv.host]


def test_a_registry_without_auth_costs_no_ping(serve: Any) -> None:
    srv = serve(lambda r: r.reply(200, b"ok"), ping=False)
    with make(credentials=Static(Credentials("alice", "secret"))) as t:
        for _ in range(2):
            assert t.request("GET", srv.host, "/v2/app/tags/list").read() == b"ok"
        t.request("POST", srv.host, "/v2/app/blobs/uploads/", body=b"")
    assert [(s.method, s.path) for s in srv.seen] == [
        ("GET", "/v2/app/tags/list"),
        ("GET", "/v2/app/tags/list"),
        ("POST", "/v2/app/blobs/uploads/"),
    ]
    assert all(s.header("Authorization") is None for s in srv.seen)


def test_basic_auth_refused(serve: Any) -> None:
    srv = serve(basic_registry(), ping=False)
    with (
        make(credentials=Static(Credentials("alice", "wrong"))) as t,
        pytest.raises(AuthError) as info,
    ):
        t.request("GET", srv.host, "/v2/app/tags/list")
    assert "UNAUTHORIZED" in str(info.value) and "alice" in str(info.value)
    # refused credentials are not sent twice (the first try went out before the challenge)
    assert [s.header("Authorization") is not None for s in srv.requests()] == [False, True]


def test_no_credentials(serve: Any) -> None:
    srv = serve(basic_registry(), ping=False)
    with make() as t, pytest.raises(AuthError, match="no credentials"):
        t.request("GET", srv.host, "/v2/app/tags/list")


def test_redirect_to_other_host_drops_authorization(serve: Any) -> None:
    storage = serve(lambda r: r.reply(200, b"blob bytes"), address="127.0.0.2")
    srv = serve(basic_registry(), ping=False)
    srv.redirect_to = f"http://{storage.host}/bucket/blob?sig=abc"
    with make(credentials=Static(Credentials("alice", "secret"))) as t:
        r = t.request("GET", srv.host, "/v2/app/blobs/sha256:1")
    assert r.read() == b"blob bytes"
    assert r.url == f"http://{storage.host}/bucket/blob?sig=abc"
    assert (srv.requests()[-1].header("Authorization") or "").startswith("Basic ")
    [at_storage] = storage.requests()
    assert at_storage.header("Authorization") is None
    assert at_storage.query == [("sig", "abc")]


def test_redirect_relative_and_303(serve: Any) -> None:
    def handler(r: Request) -> None:
        if r.path == "/v2/start":
            r.reply(303, headers={"Location": "done?x=1"})
        else:
            r.reply(200, r.method)

    srv = serve(handler)
    with make() as t:
        r = t.request("POST", srv.host, "/v2/start", body=b"payload")
    assert r.read() == b"GET" and r.url == f"http://{srv.host}/v2/done?x=1"
    assert srv.requests()[1].body == b""


def test_redirect_loop_is_bounded(serve: Any) -> None:
    srv = serve(lambda r: r.reply(302, headers={"Location": "/v2/loop"}))
    with make(max_redirects=5) as t, pytest.raises(TransportError, match="redirects"):
        t.request("GET", srv.host, "/v2/loop")
    assert len(srv.requests()) == 6


def test_redirect_not_followed(serve: Any) -> None:
    srv = serve(lambda r: r.reply(307, headers={"Location": "/elsewhere"}))
    with make() as t:
        r = t.request("GET", srv.host, "/v2/x", redirect=False, expect=(307,))
    assert r.location == f"http://{srv.host}/elsewhere"


def test_concurrent_requests(serve: Any) -> None:
    srv = serve(basic_registry(), ping=False)
    errors: list[BaseException] = []
    with make(credentials=Static(Credentials("alice", "secret"))) as t:

        def work() -> None:
            try:
                for _ in range(10):
                    assert t.request("GET", srv.host, "/v2/app/tags/list").read() == b"ok"
            except BaseException as exc:  # pragma: no cover - reported below
                errors.append(exc)

        threads = [threading.Thread(target=work) for _ in range(8)]
        for th in threads:
            th.start()
        for th in threads:
            th.join()
    assert not errors
    # no /v2/ ping; the other threads waited while the first request learnt the challenge
    assert [s.path for s in srv.seen].count("/v2/") == 0
    assert [s.header("Authorization") for s in srv.seen].count(None) == 1


# -- blobs ---------------------------------------------------------------------------------------

BLOB = hashlib.sha256(b"seed").digest() * (3 * CHUNK // 32 + 7)
BLOB_DIGEST = digest_of(BLOB)


def ranged(r: Request) -> int:
    value = r.header("Range")
    return int(value.removeprefix("bytes=").rstrip("-")) if value else 0


def test_blob_resumes_after_cut(serve: Any) -> None:
    def handler(r: Request) -> None:
        start = ranged(r)
        if start == 0:
            r.cut(200, BLOB[: len(BLOB) // 2], len(BLOB))
        else:
            rng = f"bytes {start}-{len(BLOB) - 1}/{len(BLOB)}"
            r.reply(206, BLOB[start:], {"Content-Range": rng})

    srv = serve(handler)
    with make() as t, t.open_blob(srv.host, "/v2/a/blobs/x", BLOB_DIGEST, len(BLOB)) as b:
        data = b.read()
        assert b.verified
    assert data == BLOB
    first, second = srv.requests()
    assert first.header("Range") is None
    assert second.header("Range") == f"bytes={len(BLOB) // 2}-"


def test_blob_resume_when_range_is_ignored(serve: Any) -> None:
    n = counter()
    srv = serve(
        lambda r: r.cut(200, BLOB[:1000], len(BLOB)) if next(n) == 0 else r.reply(200, BLOB)
    )
    with make() as t, t.open_blob(srv.host, "/v2/a/blobs/x", BLOB_DIGEST, len(BLOB)) as b:
        assert b"".join(b) == BLOB


def test_blob_resume_at_wrong_offset(serve: Any) -> None:
    n = counter()

    def handler(r: Request) -> None:
        if next(n) == 0:
            r.cut(200, BLOB[:1000], len(BLOB))
        else:
            r.reply(206, BLOB, {"Content-Range": f"bytes 0-{len(BLOB) - 1}/{len(BLOB)}"})

    srv = serve(handler)
    with (
        make() as t,
        t.open_blob(srv.host, "/b", BLOB_DIGEST, len(BLOB)) as b,
        pytest.raises(TransportError, match="wanted byte 1000"),
    ):
        b.read()


def test_blob_resume_attempts_are_bounded(serve: Any) -> None:
    def handler(r: Request) -> None:
        start = ranged(r)
        rng = {"Content-Range": f"bytes {start}-{len(BLOB) - 1}/{len(BLOB)}"} if start else {}
        r.cut(206 if start else 200, BLOB[start : start + 10], len(BLOB) - start, rng)

    srv = serve(handler)
    with (
        make(blob_attempts=3) as t,
        t.open_blob(srv.host, "/b", BLOB_DIGEST, len(BLOB)) as b,
        pytest.raises(TransportError, match="3 resumptions"),
    ):
        b.read()
    assert len(srv.requests()) == 4


def test_blob_wrong_digest(serve: Any) -> None:
    srv = serve(lambda r: r.reply(200, BLOB[:-1] + b"!"))
    with (
        make() as t,
        t.open_blob(srv.host, "/b", BLOB_DIGEST, len(BLOB)) as b,
        pytest.raises(DigestMismatch, match="digest mismatch"),
    ):
        b.read()


def test_blob_declared_size_mismatch(serve: Any) -> None:
    srv = serve(lambda r: r.reply(200, BLOB + b"more"))
    with make() as t, pytest.raises(DigestMismatch):
        t.open_blob(srv.host, "/b", BLOB_DIGEST, len(BLOB))


def test_blob_endless_body(serve: Any) -> None:
    def handler(r: Request) -> None:
        h = r.handler
        h.send_response(200)
        h.send_header("Connection", "close")
        h.end_headers()
        total = 0
        try:
            while total < 512 * CHUNK:
                h.wfile.write(b"\0" * CHUNK)
                total += CHUNK
        except OSError:
            pass
        h.close_connection = True

    srv = serve(handler)
    digest = Digest("sha256", "0" * 64)
    with (
        make() as t,
        t.open_blob(srv.host, "/b", digest, 2 * CHUNK + 5) as b,
        pytest.raises(DigestMismatch, match="more than"),
    ):
        while b.read(CHUNK):
            pass
    assert 2 * CHUNK + 5 < b.read_bytes <= 3 * CHUNK  # stopped as soon as the size was passed


# -- schemes and TLS -----------------------------------------------------------------------------


def test_loopback_falls_back_to_http(serve: Any) -> None:
    srv = serve(lambda r: r.reply(200, b"plain"))
    with make(settings=None) as t:
        assert t.scheme(srv.host) == "https"
        assert t.request("GET", srv.host, "/v2/x").read() == b"plain"
        assert t.scheme(srv.host) == "http"
        assert t.request("GET", srv.host, "/v2/y").url.startswith("http://")
    with make(settings=None) as other:  # remembered per transport, not globally
        assert other.scheme(srv.host) == "https"


def test_tls_disabled_setting(serve: Any) -> None:
    srv = serve(lambda r: r.reply(200))
    with make(settings={srv.host: PLAIN}) as t:
        assert t.scheme(srv.host) == "http"
        assert t.scheme("127.0.0.1:1") == "https"


def test_untrusted_certificate_is_not_bypassed(serve: Any, tmp_path: Path) -> None:
    srv = serve(lambda r: r.reply(200, b"tls"), tls=self_signed_cert(tmp_path))
    with make(settings=None, retries=0) as t, pytest.raises(TransportError, match="certificate"):
        t.request("GET", srv.host, "/v2/x")


def test_ca_file_setting(serve: Any, tmp_path: Path) -> None:
    cert, key = self_signed_cert(tmp_path)
    srv = serve(lambda r: r.reply(200, b"tls"), tls=(cert, key))
    settings = {srv.host: RegistrySettings(ca_file=str(cert))}
    with make(settings=settings) as t:
        r = t.request("GET", srv.host, "/v2/x")
        assert r.read() == b"tls" and r.url.startswith("https://")


@pytest.mark.filterwarnings("ignore::urllib3.exceptions.InsecureRequestWarning")
def test_insecure_setting(serve: Any, tmp_path: Path) -> None:
    srv = serve(lambda r: r.reply(200, b"tls"), tls=self_signed_cert(tmp_path))
    with make(settings=lambda _h: RegistrySettings(tls="insecure")) as t:
        assert t.request("GET", srv.host, "/v2/x").read() == b"tls"
        assert t.scheme(srv.host) == "https"


@pytest.mark.parametrize(
    ("host", "expected"),
    [
        ("localhost", True),
        ("LOCALHOST:5000", True),
        ("127.0.0.1", True),
        ("127.1.2.3:443", True),
        ("::1", True),
        ("[::1]:5000", True),
        ("10.0.0.1:5000", False),
        ("registry.example", False),
        ("[2001:db8::1]:5000", False),
    ],
)
def test_is_loopback(host: str, expected: bool) -> None:
    assert is_loopback(host) is expected


@pytest.mark.parametrize(
    "location", ["http://[bad/x", "http://127.0.0.1:99999/x", "ftp://127.0.0.1/x", "http:///x"]
)
def test_redirect_to_a_location_that_is_no_url_is_a_transport_error(
    serve: Any, location: str
) -> None:
    srv = serve(lambda r: r.reply(307, headers={"Location": location}))
    with make() as t, pytest.raises(TransportError, match="redirect"):
        t.request("GET", srv.host, "/v2/app/blobs/sha256:1")
