"""Responses: the one cap on bodies read into memory, and error bodies parsed safely."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from support.fake_http import Request

from hoist.config.settings import RegistrySettings
from hoist.errors import InvalidInput, InvalidManifest, RegistryError
from hoist.transport.http import Transport
from hoist.transport.response import error_summary, parse_errors

MiB = 1 << 20


def _transport() -> Transport:
    return Transport(settings=lambda _h: RegistrySettings("disabled"), retries=0, backoff=0.01)


def _chunked(sent: list[int], total: int = 64 * MiB) -> Any:
    def handler(r: Request) -> None:
        h = r.handler
        h.send_response(200)
        h.send_header("Transfer-Encoding", "chunked")
        h.end_headers()
        piece = b"x" * 65536
        try:
            while sent[0] < total:
                h.wfile.write(b"%x\r\n%s\r\n" % (len(piece), piece))
                sent[0] += len(piece)
            h.wfile.write(b"0\r\n\r\n")
        except OSError:
            pass
        h.close_connection = True

    return handler


def test_declared_length_over_the_cap_is_refused_before_reading(serve: Any) -> None:
    srv = serve(lambda r: r.reply(200, b"{}", length=10 * MiB))
    with _transport() as t:
        response = t.request("GET", srv.host, "/v2/x/tags/list", stream=True)
        with pytest.raises(InvalidManifest, match=r"page of 10485760 bytes from .* 1 MiB limit"):
            response.read_capped(MiB, what="page", error=InvalidManifest)


def test_endless_chunked_body_stops_past_the_cap(serve: Any) -> None:
    sent = [0]
    srv = serve(_chunked(sent))
    with _transport() as t:
        response = t.request("GET", srv.host, "/v2/x/tags/list", stream=True)
        with pytest.raises(InvalidInput, match=r"body from .* over the 1 MiB limit"):
            response.read_capped(MiB)
    assert sent[0] < 16 * MiB


def test_body_at_the_cap_is_read_whole(serve: Any) -> None:
    srv = serve(lambda r: r.reply(200, b"y" * MiB))
    with _transport() as t:
        response = t.request("GET", srv.host, "/v2/x", stream=True)
        assert response.read_capped(MiB) == b"y" * MiB


def test_endless_reply_read_whole_is_capped(serve: Any) -> None:
    """``stream=False`` (upload replies and other short answers) reads at most MAX_BODY."""
    sent = [0]
    srv = serve(_chunked(sent))
    with _transport() as t, pytest.raises(InvalidInput, match=r"reply from .* 4 MiB limit"):
        t.request("POST", srv.host, "/v2/x/blobs/uploads/")
    assert sent[0] < 16 * MiB


def test_head_of_a_large_blob_is_not_refused(serve: Any) -> None:
    """A HEAD's Content-Length is the size of the blob it describes, not a body to read."""
    srv = serve(lambda r: r.reply(200, b"", length=64 * MiB))
    with _transport() as t:
        response = t.request("HEAD", srv.host, "/v2/x/blobs/sha256:0")
    assert response.content_length == 64 * MiB and response.read() == b""


ERROR_BODIES = {
    "deeply-nested": b"[" * 100_000 + b"]" * 100_000,
    "deeply-nested-errors": b'{"errors": ' + b"[" * 100_000 + b"]" * 100_000 + b"}",
    "5000-digit-number": b'{"errors": [{"code": "DENIED", "detail": ' + b"9" * 5000 + b"}]}",
    "5000-digit-float": b'{"error": "x", "n": 1.' + b"5" * 5000 + b"}",
    "not-utf8": b'{"errors": [{"code": "\xff"}]}',
    "infinity": b'{"errors": [{"code": "DENIED", "detail": Infinity}]}',
}


@pytest.mark.parametrize("attack", sorted(ERROR_BODIES))
def test_hostile_error_body_is_summarised_without_a_crash(attack: str) -> None:
    body = ERROR_BODIES[attack]
    assert parse_errors(body) == []
    assert isinstance(error_summary(body), str)


@pytest.mark.parametrize("attack", sorted(ERROR_BODIES))
def test_hostile_error_body_is_a_registry_error(attack: str, serve: Any) -> None:
    srv = serve(lambda r: r.reply(400, ERROR_BODIES[attack]))
    with _transport() as t, pytest.raises(RegistryError) as info:
        t.request("GET", srv.host, "/v2/x/manifests/v1")
    assert info.value.status == 400 and info.value.code is None


@settings(max_examples=200, deadline=None)
@given(st.binary(max_size=300) | st.text(max_size=300).map(str.encode))
def test_fuzz_error_bodies_never_crash(body: bytes) -> None:
    errors = parse_errors(body)
    assert all(isinstance(code, str) and isinstance(message, str) for code, message, _ in errors)
    assert isinstance(error_summary(body), str)
